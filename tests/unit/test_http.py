"""bot.http against real local servers: keep-alive reuse, chunked answers, closed connections, timeouts."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.fakegraph import FakeConfig, serve_in_thread
from bot.http import HttpConnectError, HttpError, HttpPool, HttpTimeout
from bot.stack import free_port


class RawServer:
    """An HTTP/1.1 server written out by hand: what it answers is chosen per request path."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                path = head.split(b" ")[1]
                if path.startswith(b"/chunked"):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                    )
                elif path.startswith(b"/close"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbye")
                    await writer.drain()
                    writer.close()
                    return
                elif path.startswith(b"/silent"):
                    await asyncio.sleep(30)
                else:
                    payload = json.dumps({"path": path.decode(), "echo": body.decode()}).encode()
                    writer.write(
                        b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\nX-Seen: yes\r\n\r\n" % len(payload) + payload
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


@pytest.fixture()
async def raw() -> AsyncIterator[RawServer]:
    async with RawServer() as server:
        yield server


async def test_requests_reuse_one_connection_and_carry_body_params_and_headers(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}", headers={"X-Token": "t"})
    try:
        for i in range(3):
            response = await pool.request("POST", "/m", json_body={"i": i}, params={"q": "a b"}, headers={"A": "1"})
            assert response.status_code == 201 and response.headers["x-seen"] == "yes"
            assert response.json() == {"path": "/m?q=a+b", "echo": json.dumps({"i": i}, separators=(",", ":"))}
        assert raw.connections == 1
        head = raw.requests[0].decode().lower()
        assert "x-token: t\r\n" in head and "a: 1\r\n" in head and f"host: 127.0.0.1:{raw.port}\r\n" in head
        assert "content-type: application/json\r\n" in head
    finally:
        await pool.close()


async def test_raw_content_is_sent_byte_for_byte(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}")
    body = '{"a": "é",  "b": 1}'.encode()  # spacing and non-ASCII kept: a signature covers these bytes
    try:
        response = await pool.request("POST", "/raw", content=body, headers={"Content-Type": "application/json"})
        assert response.json()["echo"] == body.decode()
        assert raw.requests[0].endswith(b"\r\n\r\n" + body)
        assert f"content-length: {len(body)}\r\n" in raw.requests[0].decode().lower()
        with pytest.raises(ValueError):
            await pool.request("POST", "/raw", content=body, json_body={"a": 1})
    finally:
        await pool.close()


async def test_chunked_answers_and_connections_the_server_closes(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}")
    try:
        assert (await pool.request("GET", "/chunked")).content == b"hello world"
        assert (await pool.request("GET", "/close")).content == b"bye"  # Connection: close: not kept
        assert (await pool.request("GET", "/x")).status_code == 201
        assert raw.connections == 2
    finally:
        await pool.close()


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # an idle keep-alive connection dropped by the server

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = HttpPool(f"http://127.0.0.1:{port}")
    try:
        assert (await pool.request("GET", "/")).content == b"ok"
        await asyncio.sleep(0.3)
        assert (await pool.request("GET", "/")).content == b"ok"
        assert len(connections) == 2
    finally:
        await pool.close()
        server.close()


async def test_a_connection_idle_longer_than_keepalive_is_not_used_again(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}", keepalive_s=0.2)
    try:
        await pool.request("GET", "/a")
        await pool.request("GET", "/b")
        assert raw.connections == 1
        await asyncio.sleep(0.3)
        await pool.request("GET", "/c")
        assert raw.connections == 2
    finally:
        await pool.close()


async def test_timeouts_and_refused_connections_are_errors(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}", timeout_s=0.3)
    try:
        with pytest.raises(HttpTimeout):
            await pool.request("GET", "/silent")
        assert (await pool.request("GET", "/after")).status_code == 201  # on a new connection
    finally:
        await pool.close()
    with pytest.raises(HttpConnectError):
        await HttpPool(f"http://127.0.0.1:{free_port()}").request("GET", "/")


async def test_a_line_break_or_space_in_the_target_or_a_header_is_refused_before_sending(raw: RawServer) -> None:
    pool = HttpPool(f"http://127.0.0.1:{raw.port}")
    try:
        for bad in (
            {"url": "/me/12 34"},  # an id with a space would end the request line
            {"url": "/ok", "headers": {"x-id": "1\r\nx-injected: yes"}},
            {"url": "/ok", "headers": {"x-id\r\nx-injected": "yes"}},
            {"url": "/ok\x00"},
        ):
            with pytest.raises(HttpError):
                await pool.request("GET", **bad)  # type: ignore[arg-type]
        assert raw.requests == []  # nothing went out
        assert (await pool.request("GET", "/ok", params={"q": "a b\r\nc"})).status_code == 201  # params are encoded
        assert raw.requests[0].split(b"\r\n")[0] == b"GET /ok?q=a+b%0D%0Ac HTTP/1.1"
    finally:
        await pool.close()


async def test_an_answer_over_the_size_limit_is_an_error(raw: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.http.MAX_RESPONSE_BYTES", 10)
    pool = HttpPool(f"http://127.0.0.1:{raw.port}")
    try:
        with pytest.raises(HttpError, match="too large"):
            await pool.request("GET", "/a-path-long-enough-for-a-big-answer")
    finally:
        await pool.close()


async def test_the_fake_graph_api_through_the_pool() -> None:
    with serve_in_thread(free_port()) as fake:
        fake.graph.reset(FakeConfig())
        pool = HttpPool(fake.url + "/v21.0")
        try:
            response = await pool.request(
                "GET", "/1234567", params={"fields": "first_name"}, headers={"Authorization": "Bearer fake-token"}
            )
            assert response.status_code == 200 and response.json()["first_name"] == "Cust4567"
            body = {"recipient": {"id": "42"}, "sender_action": "typing_on"}
            response = await pool.request(
                "POST", "/100/messages", json_body=body, headers={"Authorization": "Bearer fake-token"}
            )
            assert response.status_code == 200 and fake.graph.actions[-1]["action"] == "typing_on"
        finally:
            await pool.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_https_with_a_verified_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    async with RawServer() as plain:
        server = await asyncio.start_server(plain.handle, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        try:
            trusting = ssl.create_default_context(cafile=str(cert))
            pool = HttpPool(f"https://localhost:{port}", ssl_context=trusting)
            try:
                for _ in range(2):
                    assert (await pool.request("POST", "/tls", json_body={"a": 1})).json()["path"] == "/tls"
                assert plain.connections == 1
            finally:
                await pool.close()
            with pytest.raises(HttpError):  # not trusted by the system's CAs
                await HttpPool(f"https://localhost:{port}").request("GET", "/")
        finally:
            server.close()
