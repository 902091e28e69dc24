"""One HTTP/1.1 keep-alive connection to one checked address: a POST written in one piece, the
answer parsed by httptools (llhttp, Node.js's HTTP parser, in C).

webhooks/delivery/http.py decides where to connect, for how long, and what a failure means; this
module only speaks the protocol. What it keeps of an answer is bounded: the status, the headers and
the first `excerpt` bytes of the body. It does not read a longer body to its end: the connection is
left to be dropped instead. http.client did this work before, at about twice the CPU per send
(its headers go through the email package's parser).
"""

import re
import select
import socket
import ssl
from dataclasses import dataclass

import httptools

_READ_SIZE = 65536
# Nothing that could end a header line early, or the head: names and values are checked when an
# endpoint's headers are saved, and once more here, where the request is written.
_LINE_BREAKING = re.compile(r"[\r\n\x00]")


class Unreachable(Exception):
    """No TCP connection to this address (refused, unroutable, timed out): another may answer.
    The socket's own error is the cause."""


class ClosedWithoutAnswer(ConnectionResetError):
    """The server closed the connection before the head of an answer came."""


class InvalidResponse(Exception):
    """What came back is not an HTTP/1.x answer (the parser's reason is the message)."""


class InvalidRequest(ValueError):
    """A header that cannot be written on the wire as it is (a line break, a non-Latin-1 character)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]  # in order, as sent
    body: bytes  # the first `excerpt` bytes at most
    reusable: bool  # read to its end, and the server keeps the connection open


class Connection:
    """A keep-alive connection to `address`; over TLS when given a context (SNI and the certificate
    check on `hostname`, not on the address)."""

    def __init__(
        self, address: str, port: int, *, hostname: str = "", context: ssl.SSLContext | None = None
    ) -> None:
        self.address, self.port, self.hostname, self.context = address, port, hostname, context
        self.sock: socket.socket | None = None
        self.timeout: float | None = None  # each socket operation's, as last set

    def connect(self, timeout: float) -> None:
        try:
            sock = socket.create_connection((self.address, self.port), timeout)
        except OSError as exc:
            raise Unreachable from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.sock = sock  # already: a deadline can cut a TLS handshake that hangs
        if self.context is not None:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.hostname)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    @property
    def dropped(self) -> bool:
        """An idle connection that the server has closed (or has sent something unasked on)."""
        if self.sock is None:
            return True
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    def post(
        self, path: str, *, host: str, headers: dict[str, str], body: bytes, excerpt: int, timeout: float
    ) -> Answer:
        """POST `body` and read the answer; each socket operation waits `timeout` seconds at most."""
        if self.sock is None:
            raise ConnectionError("not connected")
        if timeout != self.timeout:  # setting it is a system call, which hands the GIL to other threads
            self.sock.settimeout(timeout)
            self.timeout = timeout
        self.sock.sendall(_request(path, host, headers, body))
        return _answer_read(self.sock, excerpt)


def _request(path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    for name, value in headers.items():
        if _LINE_BREAKING.search(name) or _LINE_BREAKING.search(value):
            raise InvalidRequest(f"header {name!r}: a line break or NUL")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1") + body
    except UnicodeEncodeError:
        raise InvalidRequest("a header holds a character that is not Latin-1") from None


class _Reader:
    """httptools' callbacks for one answer. An interim answer (1xx) is dropped for the one after it."""

    def __init__(self, excerpt: int) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.excerpt = excerpt
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.head_done = self.complete = self.keep_alive = self.trailing = False

    def on_message_begin(self) -> None:
        if self.complete:  # bytes after the answer: the connection is not in a state to reuse
            self.trailing = True
            return
        self.headers, self.body, self.head_done = [], bytearray(), False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if not self.complete:
            self.status, self.head_done = self.parser.get_status_code(), True
            self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, chunk: bytes) -> None:
        room = self.excerpt + 1 - len(self.body)  # one byte more tells that the body goes on
        if room > 0 and not self.complete:
            self.body += chunk[:room]

    def on_message_complete(self) -> None:
        if self.status >= 200:
            self.complete = True


def _answer_read(sock: socket.socket, excerpt: int) -> Answer:
    reader = _Reader(excerpt)
    while not reader.complete and len(reader.body) <= excerpt:
        data = sock.recv(_READ_SIZE)
        if not data:
            if reader.head_done:  # a body that ends with the connection (or is cut short)
                break
            raise ClosedWithoutAnswer
        try:
            reader.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # HttpParserUpgrade (101) included
            if not reader.complete:
                raise InvalidResponse(str(exc) or type(exc).__name__) from None
            reader.trailing = True
    return Answer(
        status=reader.status,
        headers=reader.headers,
        body=bytes(reader.body[:excerpt]),
        reusable=reader.complete
        and reader.keep_alive
        and not reader.trailing
        and len(reader.body) <= excerpt,
    )
