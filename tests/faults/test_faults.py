"""The fault suite (marker `faults`): real processes, real faults; counts are asserted, timings only reported.

The figures go to the terminal summary (`-rA` shows them) and come from the same scenarios
`python -m bench.faults` prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults import scenarios
from bench.postgres import PostgresServer

pytestmark = pytest.mark.faults


async def test_killing_the_candidate_under_load_fails_nothing_before_the_first_byte(tmp_path: Path) -> None:
    figures = await scenarios.kill_candidate_under_load(tmp_path)
    print("kill candidate:", figures)
    assert figures["requests"] > 0 and figures["failed_before_first_byte"] == 0
    # Streams cut mid-answer by the kill end with an in-band error, never silently.
    assert figures["cut_without_error"] == 0


async def test_frozen_and_stopped_flag_store_under_load(tmp_path: Path, pg_server: PostgresServer) -> None:
    figures = await scenarios.flag_store_faults_under_load(tmp_path, pg_server)
    print("flag store:", figures)
    for fault in ("frozen", "stopped"):
        assert figures[fault]["shown_down_s"] is not None and figures[fault]["back_up_s"] is not None
        assert figures[fault]["write"]["status"] == 503 and "nothing was changed" in figures[fault]["write"]["message"]
    # Frozen, the write may have reached the server: the answer says the database itself will refuse it.
    assert "cannot land later" in figures["frozen"]["write"]["message"]
    assert figures["writes_landed_after_failure"] == 0 and figures["flags_unchanged"]
    traffic = figures["traffic"]
    assert traffic["requests"] > 0 and traffic["failed_before_first_byte"] == traffic["cut_without_error"] == 0
    assert traffic["in_band_errors"] == 0


async def test_hung_shadow_is_abandoned_and_shadows_resume(tmp_path: Path) -> None:
    figures = await scenarios.hung_shadow_under_load(tmp_path)
    print("hung shadow:", figures)
    assert figures["circuit_opened"] and figures["shadows_resumed_s"] is not None
    assert figures["failed_before_first_byte"] == 0 and figures["cut_without_error"] == 0


async def test_two_hundred_disconnects_are_all_aborted_upstream(tmp_path: Path) -> None:
    figures = await scenarios.disconnecting_clients(tmp_path)
    print("disconnects:", figures)
    assert figures["streams_started"] == 200 and figures["aborted_upstream"] == 200


async def test_sigterm_ends_every_live_stream_visibly(tmp_path: Path) -> None:
    figures = await scenarios.sigterm_with_live_streams(tmp_path)
    print("sigterm:", figures)
    assert figures["completed"] + figures["ended_with_error_event"] == figures["streams"]
    assert figures["completed"] > 0 and figures["ended_with_error_event"] > 0 and figures["cut_without_error"] == 0
