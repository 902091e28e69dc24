"""A real webhook receiver on 127.0.0.1 that records and verifies every request.

One `Receiver` serves many logical endpoints, one per URL path. For each path a test sets
how it answers (`behave`) and which secrets sign its requests (`expect_secrets`); every
request is recorded with the result of two independent signature checks:

- `verified_standard`: the off-the-shelf `standardwebhooks` package, as a customer would use it;
- `verified_edrv`: a hand-written check of `edrv-signature: t=<unix>,v1=<hex>[,v1=<hex>...]`.

For a v1a (ed25519) endpoint a test registers its public keys instead (`expect_public_keys`), and
`verified_v1a` says whether one of them verifies a `v1a` entry of `webhook-signature`, checked with
`cryptography` alone (the `standardwebhooks` package has no v1a).

No pytest here: the benchmark imports this module too.

    with Receiver() as receiver:
        receiver.expect_secrets("/a", [secret])
        receiver.behave("/a", sequence([status(500), ok()]))
        ...  # point an endpoint at receiver.url("/a")
        first, second = receiver.wait_for(2, path="/a")
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

# Both checks refuse timestamps further than this from now, as standardwebhooks does.
TIMESTAMP_TOLERANCE = 300


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    method: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # None when the body is not JSON
    received_at: float
    verified_standard: bool  # some registered secret verifies `webhook-signature`
    verified_edrv: bool  # some registered secret verifies `edrv-signature`
    matched_secrets: tuple[str, ...]  # the secrets that verify under both schemes
    errors: tuple[str, ...] = ()  # why a secret/scheme did not verify, for failure messages
    verified_v1a: bool = False  # some registered public key verifies a `v1a` signature
    matched_public_keys: tuple[str, ...] = ()  # the public keys that verify

    @property
    def verified(self) -> bool:
        return self.verified_standard and self.verified_edrv

    def summary(self) -> str:
        event_type = (
            (self.json.get("type") or self.json.get("event")) if isinstance(self.json, dict) else None
        )
        return (
            f"{self.method} {self.path} id={self.headers.get('webhook-id')} type={event_type} "
            f"standard={self.verified_standard} edrv={self.verified_edrv} v1a={self.verified_v1a} "
            f"errors={list(self.errors)}"
        )


@dataclass(frozen=True)
class Reply:
    """An answer; also a plan that always gives that answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering

    def __call__(self, request: RecordedRequest, n: int) -> "Reply":
        return self


# A plan chooses the reply to the nth (1-based) request received on its path.
Plan = Callable[[RecordedRequest, int], Reply]


def ok() -> Reply:
    return Reply(200)


def status(code: int, headers: dict[str, str] | None = None, body: bytes | str = b"") -> Reply:
    return Reply(code, dict(headers or {}), body.encode() if isinstance(body, str) else body)


def hang(seconds: float, then: Reply | None = None) -> Reply:
    """Answer `then` (200 by default) only after `seconds`: longer than the sender's timeout."""
    reply = then or ok()
    return Reply(reply.status, reply.headers, reply.body, delay=seconds)


def sequence(plans: Sequence[Plan]) -> Plan:
    """The nth request gets the nth reply; the last one repeats."""
    items = list(plans)
    return lambda request, n: items[min(n, len(items)) - 1](request, n)


def alternate(*plans: Plan) -> Plan:
    """Requests take the replies in turn, round and round."""
    return lambda request, n: plans[(n - 1) % len(plans)](request, n)


def standard_verifies(secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Raise unless `webhook-signature` verifies for `secret` (DESIGN §5 key rules).

    `Webhook(str)` base64-decodes any string it is given (after stripping `whsec_`), so a
    plain secret must be passed as its UTF-8 bytes, which the package uses as the key as is.
    """
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode()
    Webhook(key).verify(body, headers, json_parse=False)


def edrv_verifies(secret: str, body: bytes, header: str | None) -> None:
    """Raise unless `edrv-signature` (t=<unix>,v1=<hex>,...) carries HMAC-SHA256(secret, t.body)."""
    if not header:
        raise ValueError("no edrv-signature header")
    pairs = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for name, _, value in pairs if name == "t"]
    signatures = [value for name, _, value in pairs if name == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise ValueError(f"malformed edrv-signature {header!r}")
    if abs(time.time() - int(timestamps[0])) > TIMESTAMP_TOLERANCE:
        raise ValueError(f"edrv-signature timestamp {timestamps[0]} out of tolerance")
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures):
        raise ValueError("no edrv-signature v1 matches")


def v1a_verifies(public_key: str, body: bytes, headers: dict[str, str]) -> None:
    """Raise unless a `v1a` entry of `webhook-signature` is an ed25519 signature of
    `{webhook-id}.{webhook-timestamp}.{body}` that `public_key` (`whpk_` + base64 of 32 bytes) verifies."""
    if not public_key.startswith("whpk_"):
        raise ValueError(f"not a whpk_ public key: {public_key!r}")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len("whpk_") :], validate=True))
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit():
        raise ValueError("no webhook-id, or a malformed webhook-timestamp")
    if abs(time.time() - int(timestamp)) > TIMESTAMP_TOLERANCE:
        raise ValueError(f"webhook-timestamp {timestamp} out of tolerance")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    entries = [entry.partition(",") for entry in headers.get("webhook-signature", "").split()]
    for version, _, signature in entries:
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature, validate=True), signed)
        except (InvalidSignature, ValueError):
            continue
        return
    raise ValueError("no v1a signature verifies")


class Receiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._plans: dict[str, Plan] = {}
        self._secrets: dict[str, list[str]] = {}
        self._public_keys: dict[str, list[str]] = {}
        self._counts: dict[str, int] = {}
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self.host, self.port = host, self._server.server_address[1]
        # A short poll interval so that close() returns at once, not up to half a second later.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="receiver", daemon=True
        )

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()  # wakes hanging handlers so no thread outlives the test
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def behave(self, path: str, plan: Plan) -> None:
        with self._lock:
            self._plans[path] = plan

    def expect_secrets(self, path: str, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets[path] = list(secrets)

    def expect_public_keys(self, path: str, public_keys: Iterable[str]) -> None:
        """The `whpk_` keys of a v1a endpoint at `path`: they, not secrets, check its requests."""
        with self._lock:
            self._public_keys[path] = list(public_keys)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def wait_for(
        self,
        count: int,
        path: str | None = None,
        timeout: float = 30,
        predicate: Callable[[RecordedRequest], bool] | None = None,
    ) -> list[RecordedRequest]:
        """The matching requests once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matched = [
                    r
                    for r in self._requests
                    if (path is None or r.path == path) and (predicate is None or predicate(r))
                ]
                remaining = deadline - time.monotonic()
                if len(matched) >= count or remaining <= 0:
                    break
                self._lock.wait(min(remaining, 0.2))
            arrived = "\n".join(f"  {r.summary()}" for r in self._requests) or "  (nothing)"
        if len(matched) < count:
            raise AssertionError(
                f"expected {count} matching request(s) on {path or 'any path'} within {timeout}s, "
                f"got {len(matched)}; everything that arrived:\n{arrived}"
            )
        return matched

    def _record(self, path: str, method: str, headers: dict[str, str], body: bytes) -> tuple[Reply, float]:
        received_at = time.time()
        with self._lock:
            secrets = list(self._secrets.get(path, []))
            public_keys = list(self._public_keys.get(path, []))
        standard, edrv, errors = set(), set(), []
        for index, secret in enumerate(secrets):
            try:
                standard_verifies(secret, body, headers)
                standard.add(secret)
            except Exception as exc:  # any failure, a malformed header included, is "does not verify"
                errors.append(f"standard[{index}]: {exc}")
            try:
                edrv_verifies(secret, body, headers.get("edrv-signature"))
                edrv.add(secret)
            except ValueError as exc:
                errors.append(f"edrv[{index}]: {exc}")
        v1a = []
        for index, public_key in enumerate(public_keys):
            try:
                v1a_verifies(public_key, body, headers)
                v1a.append(public_key)
            except ValueError as exc:
                errors.append(f"v1a[{index}]: {exc}")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = RecordedRequest(
            path=path,
            method=method,
            headers=headers,
            body=body,
            json=parsed,
            received_at=received_at,
            verified_standard=bool(standard),
            verified_edrv=bool(edrv),
            matched_secrets=tuple(s for s in secrets if s in standard and s in edrv),
            errors=tuple(errors),
            verified_v1a=bool(v1a),
            matched_public_keys=tuple(v1a),
        )
        with self._lock:
            self._requests.append(request)
            self._counts[path] = n = self._counts.get(path, 0) + 1
            plan = self._plans.get(path, ok())
            self._lock.notify_all()
        reply = plan(request, n)
        return reply, reply.delay

    def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False when the receiver closed meanwhile."""
        return not self._closing.wait(seconds) if seconds > 0 else True


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as senders reuse connections

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _handle(self) -> None:
            body = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply, delay = receiver._record(urlsplit(self.path).path, self.command, headers, body)
            if not receiver._pause(delay):
                self.close_connection = True
                return
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the sender gave up waiting: that is the point of hang()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are recorded, not logged

    return Handler
