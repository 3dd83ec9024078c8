"""Clients that trickle, stall or send bytes no HTTP client library would: cut off in time, answered in JSON."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.gateway.live_stack import live_gateway

HEAD_TIMEOUT_S = 0.5
MAX_HEAD = 16 * 1024
BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with live_gateway(tmp_path_factory.mktemp("slow"), client_header_timeout_s=HEAD_TIMEOUT_S,
                      client_body_timeout_s=BODY_TIMEOUT_S, client_max_header_bytes=MAX_HEAD) as url:
        parsed = urlparse(url)
        yield parsed.hostname or "127.0.0.1", parsed.port or 80


def _read_response(sock: socket.socket, limit_s: float) -> tuple[int, dict]:  # type: ignore[type-arg]
    # `limit_s` only keeps a broken gateway from hanging the test; the 408's reason is what shows the deadline.
    sock.settimeout(limit_s)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_request_head_that_never_ends_is_cut_off_with_a_408(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ")
        status, body = _read_response(sock, 10)
    assert status == 408 and "head not received" in body["error"]["message"]


def test_a_silent_connection_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as sock:
        status, body = _read_response(sock, 10)
    assert status == 408 and "head not received" in body["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/admin/flags"])
def test_a_trickled_body_is_cut_off_with_a_408(address: tuple[str, int], path: str) -> None:
    method = b"PUT" if path == "/admin/flags" else b"POST"
    with socket.create_connection(address) as sock:
        sock.sendall(method + b" " + path.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\ncontent-length: 200\r\n\r\n{")
        try:
            for _ in range(int(BODY_TIMEOUT_S * 10) + 20):
                sock.sendall(b" ")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body = _read_response(sock, 10)
    assert status == 408 and "body not received" in body["error"]["message"]


@pytest.mark.parametrize("header", [b"x-request-id: a\x01b", b"x-quantgate-key: \x00", b"bad header line"])
def test_control_bytes_and_broken_headers_get_a_json_400(address: tuple[str, int], header: bytes) -> None:
    with socket.create_connection(address) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + header + b"\r\ncontent-length: 2\r\n\r\n{}")
        status, body = _read_response(sock, 10)
    assert status == 400 and body["error"]["message"].startswith("malformed HTTP request")


def _send_all_tolerating_close(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused part-way: the answer is already waiting


@pytest.mark.parametrize(("size", "pieces"), [(MAX_HEAD + 1, 1), (4 * 1024 * 1024, 64)])
def test_a_request_head_over_the_limit_gets_a_431(address: tuple[str, int], size: int, pieces: int) -> None:
    """One oversized header, in one write or trickled in pieces (the parser must not keep buffering it)."""
    value = b"a" * size
    with socket.create_connection(address) as sock:
        _send_all_tolerating_close(sock, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-big: ")
        step = len(value) // pieces
        for start in range(0, len(value), step):
            _send_all_tolerating_close(sock, value[start:start + step])
        _send_all_tolerating_close(sock, b"\r\ncontent-length: 2\r\n\r\n{}")
        status, body = _read_response(sock, 10)
    assert status == 431 and f"exceed {MAX_HEAD} bytes" in body["error"]["message"]


def test_a_head_under_the_limit_is_served(address: tuple[str, int]) -> None:
    body = json.dumps({"model": "quantgate", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    with socket.create_connection(address) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-pad: "
                     + b"p" * (MAX_HEAD - 1024) + b"\r\ncontent-type: application/json\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body.encode())
        status, answer = _read_response(sock, 10)
    assert status == 200 and answer["choices"]
