"""webhooks.delivery.http against real sockets on 127.0.0.1: servers are started here, nothing is mocked."""

import logging
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from webhooks.delivery import http, http1
from webhooks.delivery.destinations import DestinationRefused, destination_check

Reply = tuple[int, dict[str, str], bytes]
HEADERS = {"content-type": "application/json", "webhook-id": "evt_1", "webhook-signature": "v1,c2ln"}


@pytest.fixture
def public_only(settings: Settings) -> None:
    """http:// allowed so that the address rules, not the scheme rule, are what refuses."""
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = []


@pytest.fixture
def local(settings: Settings) -> None:
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@dataclass
class Seen:
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    connections: int = 0


@contextmanager
def http_server(
    reply: Callable[[str], Reply] = lambda path: (200, {}, b"ok"), tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, Seen]]:
    seen, lock = Seen(), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def setup(self) -> None:
            with lock:
                seen.connections += 1
            super().setup()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, headers, payload = reply(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def request_read(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[socket.socket]]]:
    """A listener whose every connection runs `handle`, to misbehave in ways http.server won't."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            threading.Thread(target=handle_quietly, args=(conn,), daemon=True).start()

    def handle_quietly(conn: socket.socket) -> None:
        with suppress(OSError):  # the client hanging up is part of every scenario here
            handle(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for conn in accepted:
            conn.close()


# --- refused destinations --------------------------------------------------------------------

REFUSED = [
    ("https://127.0.0.1/", "loopback address 127.0.0.1"),
    ("https://localhost/hook", "loopback address 127.0.0.1|does not resolve"),
    ("https://localhost./hook", "loopback address|does not resolve"),
    ("https://2130706433/", "ambiguous IP address spelling"),
    ("https://0177.0.0.1/", "ambiguous IP address spelling"),
    ("https://0x7f.1/", "ambiguous IP address spelling"),
    ("https://127.1/", "ambiguous IP address spelling"),
    ("https://[::1]/", "loopback address ::1"),
    ("https://[::ffff:127.0.0.1]/", "IPv4-mapped address"),
    ("https://[::ffff:8.8.8.8]/", "IPv4-mapped address"),
    ("https://[::7f00:1]/", "IPv4-compatible address"),
    ("https://10.1.2.3/", "private address 10.1.2.3"),
    ("https://172.16.0.1/", "private address"),
    ("https://192.168.1.1/", "private address"),
    ("https://169.254.169.254/latest/meta-data/", "link-local address 169.254.169.254"),
    ("https://[fe80::1]/", "link-local address"),
    ("https://100.64.0.1/", "CGNAT"),
    ("https://224.0.0.1/", "multicast address"),
    ("https://[ff02::1]/", "multicast address"),
    ("https://240.0.0.1/", "reserved address"),
    ("https://255.255.255.255/", "broadcast address"),
    ("https://0.0.0.0/", "unspecified address"),
    ("https://[::]/", "unspecified address"),
    ("https://192.0.2.10/", "documentation address"),
    ("https://198.51.100.7/", "documentation address"),
    ("https://203.0.113.9/", "documentation address"),
    ("https://[2001:db8::1]/", "documentation address"),
    ("https://198.18.0.1/", "benchmarking address"),
    ("https://192.0.0.8/", "IETF protocol address"),
    ("https://[fd00::1]/", "unique-local address"),
    ("https://[64:ff9b::a00:1]/", "NAT64 address"),
    ("https://[64:ff9b:1::1]/", "NAT64 address"),
    ("https://[2002:7f00:1::]/", "6to4 address"),
    ("https://[2001:0:4136:e378::1]/", "Teredo address"),
    ("https://[fec0::1]/", "site-local address"),
    ("https://[100::1]/", "reserved address"),
    ("https://nonexistent.invalid/", "does not resolve"),
    ("ftp://example.com/", "must start with https"),
    ("javascript:alert(1)", "must start with https"),
    ("https://user:pass@example.com/", "credentials"),
    ("https://example.com/" + "a" * 2048, "longer than 2048"),
    ("https:///no-host", "malformed"),
    ("https://exa mple.com/", "malformed"),
    ("https://example.com:99999/", "malformed"),
]


@pytest.mark.usefixtures("public_only")
@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_registration_refuses(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefused, match=reason):
        destination_check(url)


@pytest.mark.usefixtures("public_only")
@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_connect_time_refuses_without_raising(url: str, reason: str) -> None:
    # When posting to a refused destination
    result = http.post(url, body=b"{}", headers=HEADERS)

    # Then a failed result says why, at once
    assert result.status_code is None
    assert result.error.startswith("refused destination: ")
    assert result.error.removeprefix("refused destination: ") != ""
    assert re.search(reason, result.error)
    assert result.duration_ms < 1000


@pytest.fixture
def silent_listener() -> Iterator[tuple[int, socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    yield listener.getsockname()[1], listener
    listener.close()


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://localhost.:{port}/",
        "http://2130706433:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://0x7f.1:{port}/",
        "http://127.1:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
def test_loopback_listener_receives_nothing_when_loopback_is_not_allowed(
    settings: Settings, silent_listener: tuple[int, socket.socket], template: str
) -> None:
    # Given a real listener on 127.0.0.1 and only an unrelated network allowed
    port, listener = silent_listener
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    # When posting to it under any spelling
    result = http.post(template.format(port=port), body=b"{}", headers=HEADERS)

    # Then the post is refused and no connection ever reached the listener
    assert result.error.startswith("refused destination: ")
    with pytest.raises(TimeoutError):
        listener.accept()


def test_allowed_network_opens_loopback_and_is_read_at_call_time(settings: Settings) -> None:
    settings.WEBHOOKS_ALLOW_HTTP = True
    with http_server() as (url, seen):
        # Given loopback not allowed: refused, nothing received
        settings.WEBHOOKS_ALLOWED_NETWORKS = []
        assert http.post(url, body=b"{}", headers=HEADERS).error.startswith("refused destination")
        assert seen.requests == []

        # When the setting changes (no restart), then the same URL is delivered
        settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        destination_check(url)
        assert http.post(url, body=b"{}", headers=HEADERS).ok
        assert len(seen.requests) == 1


def test_malformed_allowed_network_is_a_configuration_error(settings: Settings) -> None:
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8", "not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="WEBHOOKS_ALLOWED_NETWORKS"):
        destination_check("https://127.0.0.1/")


def test_http_is_refused_unless_debug_or_allow_http(settings: Settings) -> None:
    # Given a loopback receiver that is allowed, but plain HTTP not allowed
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    with http_server() as (url, seen):
        with pytest.raises(DestinationRefused, match="HTTPS is required"):
            destination_check(url)
        assert http.post(url, body=b"{}", headers=HEADERS).error == "refused destination: HTTPS is required"
        assert seen.requests == []

        # When DEBUG or WEBHOOKS_ALLOW_HTTP is on, then http:// is accepted
        settings.DEBUG = True
        destination_check(url)
        settings.DEBUG = False
        settings.WEBHOOKS_ALLOW_HTTP = True
        destination_check(url)
    destination_check("https://127.0.0.1/")


# --- delivery behaviour ----------------------------------------------------------------------


@pytest.mark.usefixtures("local")
def test_2xx_delivers_exact_bytes_with_host_header() -> None:
    # Given a receiver
    body = b'{"_id":"evt_1","type":"session.started"}'
    with http_server(lambda path: (204, {}, b"")) as (url, seen):
        port = url.rsplit(":", 1)[1]

        # When posting by host name
        result = http.post(f"http://localhost:{port}/hooks?x=1", body=body, headers=HEADERS)

    # Then the exact bytes and headers arrived, with the name (not the IP) as Host
    assert (result.status_code, result.error, result.ok) == (204, "", True)
    path, headers, received = seen.requests[0]
    assert (path, received) == ("/hooks?x=1", body)
    assert headers["host"] == f"localhost:{port}"
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-signature"] == "v1,c2ln"


@pytest.mark.usefixtures("local")
def test_500_is_a_result_with_its_excerpt() -> None:
    with http_server(lambda path: (500, {}, b"boom")) as (url, _):
        result = http.post(url, body=b"{}", headers=HEADERS)

    assert (result.status_code, result.body_excerpt, result.error, result.ok) == (500, "boom", "", False)


@pytest.mark.usefixtures("local")
def test_redirect_is_not_followed() -> None:
    # Given a receiver that redirects to another one
    with (
        http_server() as (target_url, target_seen),
        http_server(lambda path: (301, {"Location": target_url + "/"}, b"")) as (url, _),
    ):
        # When posting
        result = http.post(url, body=b"{}", headers=HEADERS)

    # Then the 3xx is the result and the redirect target received nothing
    assert (result.status_code, result.ok) == (301, False)
    assert target_seen.requests == []


@pytest.mark.usefixtures("local")
def test_connection_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]

    result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS)

    assert (result.status_code, result.error) == (None, "connection refused")


def never_answer(conn: socket.socket) -> None:
    request_read(conn)
    time.sleep(10)


def trickle_headers(conn: socket.socket) -> None:
    request_read(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(200):
        conn.sendall(b"X")
        time.sleep(0.05)


def trickle_body(conn: socket.socket) -> None:
    request_read(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        conn.sendall(b"x")
        time.sleep(0.05)


@pytest.mark.usefixtures("local")
@pytest.mark.parametrize("misbehave", [never_answer, trickle_headers, trickle_body])
def test_total_timeout_bounds_silent_and_trickling_servers(
    misbehave: Callable[[socket.socket], None],
) -> None:
    # Given a server that never answers, or answers a byte at a time
    with raw_server(misbehave) as (port, _):
        # When posting with a 1 s limit
        started = time.monotonic()
        result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS, timeout=1.0)
        elapsed = time.monotonic() - started

    # Then we give up at the limit, not later
    assert result.error == "timeout after 1.0 s"
    assert not result.ok
    assert 0.9 <= elapsed <= 2.0
    assert 900 <= result.duration_ms <= 2000


@pytest.mark.usefixtures("local")
def test_default_timeout_comes_from_settings(settings: Settings) -> None:
    settings.WEBHOOKS_TIMEOUT = 0.5
    with raw_server(never_answer) as (port, _):
        result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS)

    assert result.error == "timeout after 0.5 s"
    assert result.duration_ms < 1500


@pytest.mark.usefixtures("local")
def test_body_excerpt_is_capped_and_reading_stops_early() -> None:
    # Given a 10 MB response whose sender stalls after the first 64 KiB until we let it go on
    go_on, outcome = threading.Event(), []

    def huge(conn: socket.socket) -> None:
        request_read(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n" + b"a" * 65536)
        go_on.wait(10)
        try:
            for _ in range(160):
                conn.sendall(b"a" * 65536)
            outcome.append("all sent")
        except OSError:
            outcome.append("client hung up")

    with raw_server(huge) as (port, accepted):
        # When posting
        result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS)
        # Then we returned without waiting for the rest, with exactly 2048 bytes kept
        assert (result.status_code, result.error) == (200, "")
        assert result.body_excerpt == "a" * 2048
        assert result.duration_ms < 1000
        go_on.set()
        deadline = time.monotonic() + 10
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.05)

    # ...and the connection was dropped rather than drained or pooled
    assert outcome == ["client hung up"]
    assert len(accepted) == 1


@pytest.mark.usefixtures("local")
@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("120", 120.0, 120.0),
        ("date:+90", 85.0, 91.0),
        ("date:-90", 0.0, 0.0),
        ("soon", None, None),
        ("", None, None),
    ],
)
def test_retry_after_seconds_and_http_date(value: str, low: float | None, high: float | None) -> None:
    # Given a 429 whose Retry-After is seconds, an HTTP-date (future or past), garbage or absent
    if value.startswith("date:"):
        value = formatdate(time.time() + float(value[5:]), usegmt=True)
    header = {"Retry-After": value} if value else {}
    with http_server(lambda path: (429, header, b"slow down")) as (url, _):
        # When posting
        result = http.post(url, body=b"{}", headers=HEADERS)

    # Then the delay is parsed in seconds, or None
    assert result.status_code == 429
    if low is None:
        assert result.retry_after is None
    else:
        assert result.retry_after is not None
        assert low <= result.retry_after <= (high or low)


@pytest.mark.usefixtures("local")
def test_keep_alive_reuses_one_connection() -> None:
    with http_server() as (url, seen):
        # When posting three times in a row
        results = [http.post(url, body=b"{}", headers=HEADERS) for _ in range(3)]

    # Then one TCP connection carried all three
    assert [r.status_code for r in results] == [200, 200, 200]
    assert (seen.connections, len(seen.requests)) == (1, 3)


@pytest.mark.usefixtures("local")
def test_pool_is_safe_from_many_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with http_server() as (url, seen), ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: http.post(url, body=b"{}", headers=HEADERS), range(64)))

    assert all(r.ok for r in results)
    assert len(seen.requests) == 64
    assert seen.connections <= 8


@pytest.mark.usefixtures("local")
def test_server_closing_an_idle_connection_costs_no_failure() -> None:
    # Given a server that answers once per connection, then closes it when the next request comes
    def once(conn: socket.socket) -> None:
        request_read(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        request_read(conn)
        conn.close()

    with raw_server(once) as (port, accepted):
        url = f"http://127.0.0.1:{port}/"
        first = http.post(url, body=b"{}", headers=HEADERS)
        # When the pooled connection turns out dead on reuse
        second = http.post(url, body=b"{}", headers=HEADERS)

    # Then the post is retried once on a fresh connection
    assert (first.status_code, second.status_code, second.error) == (200, 200, "")
    assert len(accepted) == 2


@pytest.mark.usefixtures("local")
def test_logs_carry_neither_headers_nor_body(caplog: pytest.LogCaptureFixture) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    caplog.set_level(logging.DEBUG)

    http.post(
        f"http://127.0.0.1:{port}/?token=URLSECRET",
        body=b"BODYSECRET",
        headers={"webhook-signature": "SIGSECRET"},
    )

    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook.http.failed" in logged
    for secret in ("URLSECRET", "BODYSECRET", "SIGSECRET"):
        assert secret not in logged


# --- TLS: connect to the checked IP, but SNI and certificate for the name --------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA")
    for name in ("localhost", "other.test"):
        (folder / f"{name}.ext").write_text(
            f"subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        )
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return {"ca": folder / "ca.pem", "localhost": folder / "localhost", "other": folder / "other.test"}


@contextmanager
def tls_server(stem: Path) -> Iterator[tuple[int, list[str | None]]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with http_server(tls=context) as (url, _):
        yield int(url.rsplit(":", 1)[1]), names


@pytest.mark.usefixtures("local")
def test_https_verifies_the_hostname_while_connecting_to_the_ip(
    certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receiver whose certificate (from a CA we trust) names "localhost"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates["ca"]))
    with tls_server(certificates["localhost"]) as (port, sni):
        # When posting by name
        result = http.post(f"https://localhost:{port}/", body=b"{}", headers=HEADERS)

    # Then TLS verified the name, sent as SNI, though the socket went to the checked 127.0.0.1
    assert (result.status_code, result.error) == (200, "")
    assert sni == ["localhost"]


@pytest.mark.usefixtures("local")
def test_https_refuses_a_certificate_for_another_name(
    certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates["ca"]))
    with tls_server(certificates["other"]) as (port, _):
        result = http.post(f"https://localhost:{port}/", body=b"{}", headers=HEADERS)

    assert result.status_code is None
    assert result.error.startswith("TLS: ")
    assert "mismatch" in result.error.lower()


@pytest.mark.usefixtures("local")
def test_https_refuses_an_untrusted_certificate(
    certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with tls_server(certificates["localhost"]) as (port, _):
        result = http.post(f"https://localhost:{port}/", body=b"{}", headers=HEADERS)

    assert result.status_code is None
    assert result.error.startswith("TLS: ")


# --- the HTTP/1.1 exchange (webhooks/delivery/http1.py) -------------------------------------------


def _answering(*answers: bytes) -> Callable[[socket.socket], None]:
    """A connection handler that answers each request it reads with the next of `answers`, then
    closes the connection."""

    def handle(conn: socket.socket) -> None:
        for answer in answers:
            request_read(conn)
            conn.sendall(answer)
        conn.close()

    return handle


@pytest.mark.usefixtures("local")
def test_an_interim_answer_is_passed_over_for_the_final_one() -> None:
    # Given a server that says 100 Continue (unasked), then answers, on one keep-alive connection
    final = b"HTTP/1.1 202 Accepted\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\ndone"
    with raw_server(_answering(b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" + final, final)) as (
        port,
        accepted,
    ):
        url = f"http://127.0.0.1:{port}/"
        first = http.post(url, body=b"{}", headers=HEADERS)
        second = http.post(url, body=b"{}", headers=HEADERS)

    # Then the final answer is the result, with its own headers only, and the connection was reused
    assert (first.status_code, first.body_excerpt, first.error) == (202, "done", "")
    assert ("X-Final", "yes") in first.headers and not any(n == "X-Interim" for n, _ in first.headers)
    assert (second.status_code, second.body_excerpt) == (202, "done")
    assert len(accepted) == 1


@pytest.mark.usefixtures("local")
def test_a_chunked_body_is_read_as_its_content() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    with raw_server(_answering(chunked, chunked)) as (port, accepted):
        url = f"http://127.0.0.1:{port}/"
        results = [http.post(url, body=b"{}", headers=HEADERS) for _ in range(2)]

    assert [(r.status_code, r.body_excerpt) for r in results] == [(200, "abcde"), (200, "abcde")]
    assert len(accepted) == 1  # read to its end: the connection was kept


@pytest.mark.usefixtures("local")
def test_a_body_that_ends_with_the_connection_is_the_answer() -> None:
    # An answer with neither Content-Length nor chunks: its body is whatever comes before the close
    with raw_server(_answering(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbye")) as (port, _):
        result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS)

    assert (result.status_code, result.body_excerpt, result.error) == (200, "bye", "")


@pytest.mark.usefixtures("local")
def test_an_answer_that_is_not_http_is_a_failed_attempt() -> None:
    with raw_server(_answering(b"SSH-2.0-OpenSSH_9.2\r\n")) as (port, _):
        result = http.post(f"http://127.0.0.1:{port}/", body=b"{}", headers=HEADERS)

    assert result.status_code is None
    assert result.error.startswith("invalid HTTP response (")


@pytest.mark.usefixtures("local")
def test_a_connection_with_bytes_after_the_answer_is_not_reused() -> None:
    junk = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with raw_server(_answering(junk, junk)) as (port, accepted):
        url = f"http://127.0.0.1:{port}/"
        results = [http.post(url, body=b"{}", headers=HEADERS) for _ in range(2)]

    # The second answer on the wire was never asked for: each post got its own connection
    assert [(r.status_code, r.body_excerpt) for r in results] == [(200, "ok"), (200, "ok")]
    assert len(accepted) == 2


@pytest.mark.usefixtures("local")
def test_a_header_that_would_break_the_request_is_not_sent() -> None:
    with http_server() as (url, seen):
        result = http.post(url, body=b"{}", headers={**HEADERS, "x-note": "a\r\nx-injected: 1"})

    assert result.status_code is None and result.error.startswith("invalid request (")
    assert seen.requests == []


@pytest.mark.usefixtures("local")
def test_the_request_is_written_in_one_piece_with_its_length() -> None:
    # Given a server that reads the whole request with a single recv
    heads: list[bytes] = []

    def one_read(conn: socket.socket) -> None:
        heads.append(conn.recv(65536))
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        conn.close()

    with raw_server(one_read) as (port, _):
        result = http.post(f"http://127.0.0.1:{port}/p?q=1", body=b'{"a":1}', headers=HEADERS)

    assert result.status_code == 204
    head, _, body = heads[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /p?q=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert b"Content-Length: 7" in lines and b"webhook-id: evt_1" in lines
    assert body == b'{"a":1}'


class _TimeoutsSet:
    """A socket that notes every per-operation timeout set on it (each a system call that hands the
    GIL to other threads), and is otherwise the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.set: list[float | None] = []

    def settimeout(self, value: float | None) -> None:
        self.set.append(value)
        self.sock.settimeout(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def test_a_kept_connection_sets_its_read_timeout_only_when_it_changes() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with raw_server(_answering(ok, ok, ok, ok)) as (port, _):
        conn = http1.Connection("127.0.0.1", port)
        conn.connect(5)
        watched = _TimeoutsSet(conn.sock)  # type: ignore[arg-type]
        conn.sock = watched  # type: ignore[assignment]
        answers = [
            conn.post("/", host="h", headers={}, body=b"{}", excerpt=10, timeout=t) for t in (5, 5, 3, 3)
        ]
        conn.close()

    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert watched.set == [3]  # 5 was the connect's; each request of a pooled connection asks the same


def test_requests_on_a_kept_connection_ask_the_same_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # http.post gives each read what is left of the exchange's time in whole seconds: the requests
    # of a kept connection (each well within a second of its start) ask the same one
    asked: list[float] = []
    original = http1.Connection.post

    def noted(self: http1.Connection, path: str, **kwargs: Any) -> http1.Answer:
        asked.append(kwargs["timeout"])
        return original(self, path, **kwargs)

    monkeypatch.setattr(http1.Connection, "post", noted)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    with raw_server(_answering(ok, ok, ok)) as (port, accepted):
        url = f"http://127.0.0.1:{port}/"
        results = [http.post(url, body=b"{}", headers=HEADERS, timeout=5.0) for _ in range(3)]

    assert [r.status_code for r in results] == [200, 200, 200] and len(accepted) == 1
    assert asked == [5, 5, 5]
