"""webhooks.delivery.amqp against the real RabbitMQ of 127.0.0.1 (tests/rabbitmq.py), and brokers
started here that refuse, hang, drop connections or speak TLS: nothing is mocked."""

import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings
from standardwebhooks import Webhook

from tests.e2e.broker import BrokerOutage, free_port
from tests.rabbitmq import (
    RABBITMQ_URL,
    RabbitQueue,
    rabbit_queue,
    rabbitmq_connection,
    rabbitmq_missing,
    silent_broker,
)
from webhooks import signing
from webhooks.delivery import amqp, brokers
from webhooks.delivery.brokers import MASK, DestinationRefused

SECRET = signing.secret_generate()
BODY = json.dumps({"_id": "evt_1", "type": "location.created", "data": {"name": "Depot"}}).encode()
EVENT_TYPE = "location.created"
RABBIT_PASSWORD = "guest"


def signed_headers(msg_id: str = "evt_1") -> dict[str, str]:
    """What webhooks.delivery.sending hands a destination: its own headers and the signatures."""
    return {
        "content-type": "application/json",
        "user-agent": "eDRV-Webhooks/test",
        **signing.signature_headers(msg_id=msg_id, timestamp=int(time.time()), body=BODY, secrets=[SECRET]),
    }


def publish(url: str, *, password: str = RABBIT_PASSWORD, **options: Any) -> Any:
    """Publish as sending does: the URL as stored (password as MASK), the password apart."""
    stored, given = brokers.password_split(url)
    return amqp.publish(
        stored,
        password=password if given is None else given,
        body=options.pop("body", BODY),
        headers=options.pop("headers", None) or signed_headers(),
        event_type=options.pop("event_type", EVENT_TYPE),
        **options,
    )


@pytest.fixture
def rabbit() -> Iterator[RabbitQueue]:
    try:
        rabbitmq_connection().close()
    except OSError:
        rabbitmq_missing()
    with rabbit_queue() as queue:
        yield queue


# --- Confirmed: the message as a receiver consumes it ------------------------------------------


def test_a_confirmed_publish_is_a_success_and_the_message_verifies(rabbit: RabbitQueue) -> None:
    # Given an exchange with a queue bound to it
    # When an event is published to it
    result = publish(rabbit.url())

    # Then the broker's confirm is the attempt's success, with AMQP's reply-success as its code
    assert (result.ok, result.status_code, result.error) == (True, 200, "")
    # And the queue holds the body as it would have been POSTed, persistent, with the signature headers
    [message] = rabbit.wait_for(1)
    assert message.body == BODY
    assert message.properties["delivery_mode"] == 2
    assert message.properties["content_type"] == "application/json"
    assert message.properties["message_id"] == "evt_1"
    assert message.properties["type"] == EVENT_TYPE
    headers = message.properties["application_headers"]
    assert abs(message.properties["timestamp"] - int(headers["webhook-timestamp"])) <= 1
    assert message.delivery_info["routing_key"] == EVENT_TYPE  # no routing_key given: the event type
    # And the receiver verifies it as an HTTP receiver does (the standardwebhooks package)
    assert Webhook(SECRET).verify(message.body, headers) == json.loads(BODY)
    assert signing.verify_standard(secret=SECRET, body=message.body, headers=headers)


def test_a_routing_key_in_the_url_replaces_the_event_type(rabbit: RabbitQueue) -> None:
    result = publish(rabbit.url(routing_key="edrv.all"))

    assert result.ok
    [message] = rabbit.wait_for(1)
    assert message.delivery_info["routing_key"] == "edrv.all"


def test_the_virtual_host_is_the_path_and_slash_is_the_default(rabbit: RabbitQueue) -> None:
    # "/" written as %2F is the same virtual host as none at all
    url = rabbit.url().replace("/?", "/%2F?")

    assert publish(url).ok
    assert len(rabbit.wait_for(1)) == 1


def test_one_connection_carries_many_publishes(rabbit: RabbitQueue) -> None:
    # Given a proxy in front of the broker, which sees each connection the publisher opens
    with BrokerOutage(RABBITMQ_URL) as proxy:
        url = rabbit.url(host=f"127.0.0.1:{proxy.port}")
        # When ten events are published one after the other
        results = [publish(url, headers=signed_headers(f"evt_{n}")) for n in range(10)]
        # Then all are confirmed, over a single connection kept for the next
        assert all(r.ok for r in results)
        assert len(proxy._live) == 2  # one client side, one broker side
    ids = [m.properties["message_id"] for m in rabbit.wait_for(10)]
    assert ids == [f"evt_{n}" for n in range(10)]


def test_a_connection_the_broker_dropped_is_replaced_at_once(rabbit: RabbitQueue) -> None:
    # Given a publish that left its connection open for the next one
    with BrokerOutage(RABBITMQ_URL) as proxy:
        url = rabbit.url(host=f"127.0.0.1:{proxy.port}")
        assert publish(url).ok
        # When the broker side drops every connection (a restart), and comes back
        proxy.pause()
        proxy.resume()
        # Then the next publish notices, connects again and is confirmed, in the same attempt
        result = publish(url, headers=signed_headers("evt_2"))
    assert (result.ok, result.error) == (True, "")
    assert [m.properties["message_id"] for m in rabbit.wait_for(2)] == ["evt_1", "evt_2"]


# --- Failed attempts: what the broker said, or that it said nothing -------------------------------


def test_a_missing_exchange_is_a_failed_attempt_that_says_so(rabbit: RabbitQueue) -> None:
    result = publish(rabbit.url().replace(rabbit.exchange, "no-such-exchange"))

    assert not result.ok
    assert result.status_code == 404  # AMQP's NOT_FOUND: retried, as an HTTP 404 (not 410) is
    assert result.error == "exchange not found: 'no-such-exchange' in vhost '/'"


def test_a_message_no_queue_takes_is_a_failed_attempt(rabbit: RabbitQueue) -> None:
    # Given an exchange whose only queue is bound for every key, then unbound
    rabbit.channel.queue_unbind(rabbit.queue, rabbit.exchange, "#")

    result = publish(rabbit.url())

    # Then the broker returns it (it was published mandatory) and the attempt failed
    assert (result.ok, result.status_code) == (False, 312)
    assert (
        result.error
        == f"unroutable: no queue is bound to exchange {rabbit.exchange!r} for routing key {EVENT_TYPE!r}"
    )
    # And the connection stays good for the next attempt
    rabbit.declare()
    assert publish(rabbit.url()).ok


def test_a_nack_is_a_failed_attempt() -> None:
    # Given a queue that takes one message and refuses more (the broker then nacks the publish)
    try:
        rabbitmq_connection().close()
    except OSError:
        rabbitmq_missing()
    with rabbit_queue(queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"}) as full:
        assert publish(full.url()).ok
        # When one more is published
        result = publish(full.url(), headers=signed_headers("evt_2"))
    # Then it is not confirmed: a failed attempt, retried later
    assert (result.ok, result.status_code) == (False, None)
    assert result.error.startswith("not confirmed: the broker refused the message (nack)")


def test_a_refused_connection_is_a_failed_attempt() -> None:
    result = publish(f"amqp://guest:guest@127.0.0.1:{free_port()}/?exchange=x")

    assert (result.ok, result.status_code, result.error) == (False, None, "connection refused")


def test_a_wrong_password_is_refused_by_the_broker_and_never_logged(
    rabbit: RabbitQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    result = publish(rabbit.url(password="not-the-password-4711"))

    assert (result.ok, result.status_code) == (False, 403)
    assert "ACCESS_REFUSED" in result.error
    assert "not-the-password-4711" not in caplog.text and "not-the-password-4711" not in result.error


def test_an_unknown_virtual_host_is_a_failed_attempt(rabbit: RabbitQueue) -> None:
    result = publish(rabbit.url().replace("/?", "/no-such-vhost?"))

    assert (result.ok, result.status_code) == (False, 530)
    assert "no-such-vhost" in result.error


def test_a_broker_that_never_answers_fails_within_the_timeout(settings: Settings) -> None:
    settings.WEBHOOKS_TIMEOUT = 1
    with silent_broker() as port:
        started = time.monotonic()
        result = publish(f"amqp://guest:guest@127.0.0.1:{port}/?exchange=x")

    assert time.monotonic() - started < 2
    assert (result.ok, result.status_code) == (False, None)
    assert result.error == "timeout after 1.0 s"


# --- The SSRF guard, at every attempt -------------------------------------------------------------


def test_a_broker_on_a_private_address_is_refused_without_connecting(settings: Settings) -> None:
    # Given the development networks closed again (production)
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with silent_broker() as port:
        result = publish(f"amqp://guest:guest@127.0.0.1:{port}/?exchange=x")

    assert (result.ok, result.error) == (False, "refused destination: loopback address 127.0.0.1")
    assert result.duration_ms < 500  # refused before any connection was tried


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("amqps://u:p@10.1.2.3/?exchange=x", "private address 10.1.2.3"),
        ("amqps://u:p@169.254.169.254/?exchange=x", "link-local address 169.254.169.254"),
        ("amqps://u:p@[::1]:5671/?exchange=x", "loopback address ::1"),
        ("amqps://u:p@0x7f.1/?exchange=x", "ambiguous IP address spelling 0x7f.1"),
    ],
)
def test_the_guard_refuses_what_it_refuses_for_http(settings: Settings, url: str, reason: str) -> None:
    settings.WEBHOOKS_ALLOWED_NETWORKS = []
    with pytest.raises(DestinationRefused) as refused:
        brokers.broker_check(url)
    assert refused.value.reason == reason


# --- What a broker URL may say --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("amqps://u:p@example.com/", "the exchange is missing: add ?exchange=NAME"),
        ("amqps://u:p@example.com/?exchange=", "the exchange is missing: add ?exchange=NAME"),
        (
            "amqps://u:p@example.com/?exchange=x&heartbeat=5",
            "unknown parameter 'heartbeat': only exchange and routing_key are",
        ),
        ("amqps://u:p@example.com/?exchange=x&exchange=y", "exchange is given twice"),
        (
            "amqps://u:p@example.com/a/b?exchange=x",
            "the virtual host is one path segment: write a / in its name as %2F",
        ),
        ("amqps://u:p@example.com/?exchange=x#top", "a broker's URL has no #fragment"),
        ("amqps://:p@example.com/?exchange=x", "a user name is needed before the password"),
        (f"amqps://u:p@example.com/?exchange={'x' * 256}", "exchange is longer than 255 bytes"),
        ("amqps://u:p@example.com:99999/?exchange=x", "malformed URL"),
    ],
)
def test_a_broker_url_says_what_is_wrong_with_it(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefused) as refused:
        brokers.broker_parse(url)
    assert refused.value.reason == reason


def test_plain_amqp_needs_what_plain_http_needs(settings: Settings) -> None:
    settings.DEBUG, settings.WEBHOOKS_ALLOW_HTTP = False, False

    with pytest.raises(DestinationRefused, match="TLS is required: use amqps://"):
        brokers.broker_parse("amqp://u:p@example.com/?exchange=x")
    assert brokers.broker_parse("amqps://u:p@example.com/?exchange=x").target.port == 5671


def test_user_password_and_vhost_are_percent_decoded() -> None:
    broker = brokers.broker_parse(
        "amqps://us%40er:p%3Aw%2F@Example.COM:5999/v%2Fh?exchange=e&routing_key=k.1"
    )

    assert (broker.user, broker.password, broker.vhost) == ("us@er", "p:w/", "v/h")
    assert (broker.target.host, broker.target.port, broker.exchange, broker.routing_key) == (
        "example.com",
        5999,
        "e",
        "k.1",
    )
    assert brokers.broker_parse("amqps://example.com/?exchange=e").login("") == ("guest", "guest")


def test_the_stored_url_masks_the_password_and_keeps_the_rest_as_written() -> None:
    stored, password = brokers.password_split("amqps://us%40er:p%3Aw@example.com:5671/v?exchange=e")

    assert stored == f"amqps://us%40er:{MASK}@example.com:5671/v?exchange=e"
    assert password == "p:w"
    assert brokers.password_split(stored) == (stored, None)  # already masked: the stored one stands
    assert brokers.password_split("amqps://example.com/?exchange=e") == (
        "amqps://example.com/?exchange=e",
        "",
    )
    assert brokers.password_split("https://example.com/a:b@c") == ("https://example.com/a:b@c", "")


# --- TLS: connect to the checked IP, certificate checked for the name -------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("amqps")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA")
    for name in ("localhost", "other.test"):
        (folder / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
    return {"ca": folder / "ca.pem", "localhost": folder / "localhost", "other": folder / "other.test"}


@contextmanager
def tls_in_front_of_rabbitmq(stem: Path) -> Iterator[int]:
    """A TLS listener on a free port that hands each connection, decrypted, to the RabbitMQ."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{stem}.pem", f"{stem}.key")
    upstream = RABBITMQ_URL.rpartition("@")[2].split("/")[0]
    host, _, port = upstream.partition(":")
    listener = socket.create_server(("127.0.0.1", free_port()))
    listener.settimeout(0.1)
    stop = threading.Event()
    open_sockets: list[socket.socket] = [listener]

    def pump(source: socket.socket, target: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except OSError:
                continue
            try:
                client = context.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()  # the client refused our certificate: what the test is about
                continue
            server = socket.create_connection((host, int(port or 5672)))
            open_sockets.extend([client, server])
            for pair in ((client, server), (server, client)):
                threading.Thread(target=pump, args=pair, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for sock in open_sockets:
            sock.close()


def test_amqps_checks_the_certificate_for_the_name_while_connecting_to_the_ip(
    rabbit: RabbitQueue, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a broker behind TLS whose certificate (from a CA we trust) names "localhost"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates["ca"]))
    with tls_in_front_of_rabbitmq(certificates["localhost"]) as port:
        # When publishing by name over amqps
        url = rabbit.url(host=f"localhost:{port}").replace("amqp://", "amqps://")
        result = publish(url)
    # Then TLS verified the name, and the message arrived
    assert (result.ok, result.error) == (True, "")
    assert rabbit.wait_for(1)[0].body == BODY


def test_amqps_refuses_a_certificate_for_another_name(
    rabbit: RabbitQueue, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates["ca"]))
    with tls_in_front_of_rabbitmq(certificates["other"]) as port:
        result = publish(rabbit.url(host=f"localhost:{port}").replace("amqp://", "amqps://"))

    assert (result.ok, result.status_code) == (False, None)
    assert result.error.startswith("TLS: ") and "mismatch" in result.error.lower()
