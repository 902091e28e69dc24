"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives.

A worker sends to it when started with `EMAIL_URL=<server.url>`:

    with SmtpServer() as smtp:
        start_worker(EMAIL_URL=smtp.url)
        ...
        [mail] = smtp.wait_for(1)
        assert mail.to == ["ops@example.com"]
"""

import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str  # the envelope sender
    to: list[str]  # the envelope recipients (To, Cc and Bcc alike)
    subject: str
    body: str  # the text/plain part
    message: EmailMessage

    def summary(self) -> str:
        return f"from={self.mail_from} to={self.to} subject={self.subject!r}"


class _Collector:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(preferencelist=("plain",))
        self.server._add(
            ReceivedMail(
                mail_from=envelope.mail_from,
                to=list(envelope.rcpt_tos),
                subject=str(message.get("subject", "")),
                body=text.get_content() if text is not None else "",
                message=message,
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, _free_port(host)
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Condition()
        self._controller = Controller(_Collector(self), hostname=host, port=self.port)

    @property
    def url(self) -> str:
        """For django-environ's `EMAIL_URL`: plain SMTP, no TLS, no login."""
        return f"smtp://{self.host}:{self.port}"

    def __enter__(self) -> "SmtpServer":
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()

    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 30) -> list[ReceivedMail]:
        """All messages once at least `count` arrived; AssertionError listing them otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count and (remaining := deadline - time.monotonic()) > 0:
                self._lock.wait(remaining)
            messages = list(self._messages)
        if len(messages) < count:
            arrived = "\n".join(f"  {m.summary()}" for m in messages) or "  (nothing)"
            raise AssertionError(f"expected {count} mail(s) within {timeout}s, got:\n{arrived}")
        return messages

    def _add(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)
            self._lock.notify_all()


def _free_port(host: str) -> int:
    # aiosmtpd checks readiness by connecting to the port it was given, so it needs a real
    # number up front; the tiny window before it binds is acceptable on a test machine.
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
