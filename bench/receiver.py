"""The benchmark's webhook receiver: a minimal keep-alive HTTP/1.1 server in its own process.

It must cost as little CPU as possible (it shares the machine with the workers it measures), so
it is a bare asyncio protocol, not a framework: it parses just enough HTTP to find the body, counts
requests per path and webhook-id, keeps each id's first receipt time, verifies one request in
`VERIFY_EVERY` per path (or every one, for a path registered with `every: 1`) with the
off-the-shelf `standardwebhooks` package, and answers `200` with an empty body. Paths starting
with `/hang` never answer (the sender's timeout ends them).

Control requests (from the benchmark itself) live under `/__`: `POST /__secret` registers the
secret of a path and how often to verify there (`{"path", "secret", "every"}`), `GET /__stats`
returns the counts (per path, verified and failed too), `GET /__receipts?path=…` the first
receipt time of every webhook-id seen there, `POST /__reset` forgets everything.

Run as `python -m bench.receiver`: it prints its port on the first line of stdout.
"""

import asyncio
import json
import sys
import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standardwebhooks import Webhook

VERIFY_EVERY = 50
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class _PathStats:
    __slots__ = ("count", "first_seen", "last_at", "verified", "verify_failed")

    def __init__(self) -> None:
        self.count = 0
        self.first_seen: dict[str, float] = {}
        self.last_at = 0.0
        self.verified = 0
        self.verify_failed = 0


class _State:
    def __init__(self) -> None:
        self.paths: dict[str, _PathStats] = defaultdict(_PathStats)
        self.secrets: dict[str, tuple[Webhook, int]] = {}  # path: (verifier, verify one in n)
        self.verified = 0
        self.verify_failed = 0

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        now = time.time()
        stats = self.paths[path]
        stats.count += 1
        stats.last_at = now
        webhook_id = headers.get("webhook-id", "")
        if webhook_id not in stats.first_seen:
            stats.first_seen[webhook_id] = now
        verifier, every = self.secrets.get(path, (None, VERIFY_EVERY))
        if verifier is not None and stats.count % every == 0:
            try:
                verifier.verify(body, headers)
                stats.verified += 1
                self.verified += 1
            except Exception:
                stats.verify_failed += 1
                self.verify_failed += 1

    def control(self, method: str, target: str, body: bytes) -> Any:
        parts = urlsplit(target)
        if parts.path == "/__secret":
            data = json.loads(body)
            self.secrets[data["path"]] = (Webhook(data["secret"]), int(data.get("every") or VERIFY_EVERY))
            return {}
        if parts.path == "/__reset":
            self.__init__()  # type: ignore[misc]
            return {}
        if parts.path == "/__receipts":
            path = parse_qs(parts.query)["path"][0]
            return self.paths[path].first_seen if path in self.paths else {}
        return {
            "paths": {
                path: {
                    "count": s.count,
                    "unique": len(s.first_seen),
                    "last_at": s.last_at,
                    "verified": s.verified,
                    "verify_failed": s.verify_failed,
                }
                for path, s in self.paths.items()
            },
            "verified": self.verified,
            "verify_failed": self.verify_failed,
        }


class _Connection(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        # A request whose head is parsed and whose body is still arriving (senders that write
        # the head and the body separately): (body start, request end, request line, headers).
        self.head: tuple[int, int, str, dict[str, str]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            if self.head is None:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                self.head = (end + 4, end + 4 + int(headers.get("content-length") or 0), lines[0], headers)
            start, size, request_line, headers = self.head
            if len(self.buffer) < size:
                return
            body = bytes(self.buffer[start:size])
            del self.buffer[:size]
            self.head = None
            method, target, _ = request_line.split(" ", 2)
            self._answer(method, target, headers, body)

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        assert self.transport is not None
        if target.startswith("/__"):
            payload = json.dumps(self.state.control(method, target, body)).encode()
            head = (
                f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
            )
            self.transport.write(head.encode() + payload)
            return
        path = target.split("?", 1)[0]
        self.state.record(path, headers, body)
        if path.startswith("/hang"):
            return  # never answers; the sender gives up at its timeout
        self.transport.write(OK)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def _serve() -> None:
    state = _State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve())
