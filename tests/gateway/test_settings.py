"""Settings: env vars with QUANTGATE_ prefix and nesting, YAML file, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import load_settings


def test_env_overrides_one_field_of_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTGATE_CANDIDATE__BASE_URL", "http://10.0.0.5:8000/")
    monkeypatch.setenv("QUANTGATE_CANDIDATE__STAMP__BITS", "4")
    settings = load_settings()
    assert settings.candidate.base_url == "http://10.0.0.5:8000"
    assert settings.candidate.served_model_name == "candidate"
    assert settings.candidate.stamp.bits == 4 and settings.candidate.stamp.quantization == "w8a8"


def test_yaml_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "quantgate.yaml"
    config.write_text("port: 9000\nflag_poll_interval_s: 1.5\nbaseline:\n  base_url: http://vllm-fp16:8000\n"
                      "  served_model_name: llama-fp16\n  stamp: {model: llama-3-8b, quantization: none}\n")
    monkeypatch.setenv("QUANTGATE_PORT", "9100")
    settings = load_settings(config)
    assert settings.port == 9100 and settings.flag_poll_interval_s == 1.5
    assert settings.baseline.served_model_name == "llama-fp16" and settings.baseline.stamp.model == "llama-3-8b"


def test_invalid_settings_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(flag_poll_interval_s=0)
    config = tmp_path / "bad.yaml"
    config.write_text("baseline:\n  base_url: ftp://nope\n")
    with pytest.raises(ValidationError):
        load_settings(config)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.yaml")
