"""The end-to-end harness proves itself: worker, broker, receiver, SMTP and broker outage are real."""

import base64
import hashlib
import hmac
import http.client
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import get_connection, send_mail
from kombu.exceptions import OperationalError

from edrv_project.celery import app
from edrv_project.tasks import ping
from tests.e2e.broker import Broker, BrokerOutage, queue_purge
from tests.e2e.conftest import StartProcess
from tests.e2e.receiver import Receiver, RecordedRequest, Reply, alternate, hang, ok, sequence, status
from tests.e2e.smtp import SmtpServer
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.e2e

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
PLAIN = "a plain secret, not base64: é"


def signed_headers(body: bytes, secrets: list[str], *, msg_id: str = "evt_1") -> dict[str, str]:
    """Both signature headers, computed here independently of any product or receiver code."""
    timestamp = str(int(time.time()))
    standard, edrv = [], []
    for secret in secrets:
        key = (
            base64.b64decode(secret.removeprefix("whsec_"))
            if secret.startswith("whsec_")
            else secret.encode()
        )
        digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        standard.append("v1," + base64.b64encode(digest).decode())
        edrv.append(
            "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        )
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": " ".join(standard),
        "edrv-signature": ",".join([f"t={timestamp}", *edrv]),
    }


def post(
    receiver: Receiver, path: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(receiver.host, receiver.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_for_file(path: Path, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written within {timeout}s"
        time.sleep(0.05)
    return json.loads(path.read_text())


# The worker and the broker.


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_the_test_published_and_sees_committed_rows(
    celery_worker: StartProcess, tmp_path: Path
) -> None:
    # Given two committed organizations and a running worker
    OrganizationFactory.create_batch(2)
    worker = celery_worker()

    # When the test process publishes a ping
    ping.delay(str(tmp_path / "pong.json"))

    # Then the worker ran it, against the test database
    assert wait_for_file(tmp_path / "pong.json") == {"pid": worker.pid, "organizations": 2}


@pytest.mark.django_db(transaction=True)
def test_a_task_published_while_the_worker_is_dead_runs_after_its_restart(
    celery_worker: StartProcess, tmp_path: Path
) -> None:
    # Given a worker that was SIGKILLed
    worker = celery_worker()
    first_pid = worker.pid
    worker.kill()
    assert not worker.running
    time.sleep(0.5)  # let Redis drop the dead consumer (see CeleryProcess.kill)

    # When a row is committed and a ping published while it is down, then it restarts
    OrganizationFactory.create()
    ping.delay(str(tmp_path / "pong.json"))
    time.sleep(1)
    assert not (tmp_path / "pong.json").exists()
    worker.restart()

    # Then the new process ran the waiting task and saw the new row
    assert worker.pid != first_pid
    assert wait_for_file(tmp_path / "pong.json") == {"pid": worker.pid, "organizations": 1}


@pytest.mark.django_db(transaction=True)
def test_a_purged_broker_hands_a_new_worker_nothing_from_before(
    celery_broker: Broker, celery_worker: StartProcess, tmp_path: Path
) -> None:
    # Given a task left waiting on the broker, and on Redis a dead worker's unacked entry
    ping.delay(str(tmp_path / "stale.json"))
    if celery_broker.is_redis:
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            channel.client.hset(channel.unacked_key, "stale-tag", "{}")

    # When the broker is purged, as the fixture does before every test, and a worker starts
    queue_purge(app, celery_broker)
    worker = celery_worker()
    ping.delay(str(tmp_path / "fresh.json"))

    # Then only what was published afterwards runs, and nothing is left to come back later
    assert wait_for_file(tmp_path / "fresh.json")["pid"] == worker.pid
    assert not (tmp_path / "stale.json").exists()
    if celery_broker.is_redis:
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            assert not channel.client.exists(channel.unacked_key)


def publish_fails_fast(path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(OperationalError):
        ping.delay(str(path))
    elapsed = time.monotonic() - started
    assert elapsed <= 3, f"publishing took {elapsed:.2f}s to fail"


@pytest.mark.django_db(transaction=True)
def test_publishing_fails_fast_while_the_broker_is_out_and_works_once_it_is_back(
    broker_proxy: BrokerOutage, celery_worker: StartProcess, tmp_path: Path
) -> None:
    # Given a test process that has not published yet, when the broker becomes unreachable,
    # then a first publish (a new connection) gives up within 3 s
    broker_proxy.pause()
    publish_fails_fast(tmp_path / "lost-1.json")

    # When it is back, then publishing works
    broker_proxy.resume()
    ping.delay(str(tmp_path / "after-1.json"))

    # When it goes away again, then a publish on the pooled connection fails fast too
    broker_proxy.pause()
    publish_fails_fast(tmp_path / "lost-2.json")
    broker_proxy.resume()
    ping.delay(str(tmp_path / "after-2.json"))

    # Then a worker behind the proxy runs what was published, and only that
    worker = celery_worker()
    assert wait_for_file(tmp_path / "after-1.json")["pid"] == worker.pid
    assert wait_for_file(tmp_path / "after-2.json")["pid"] == worker.pid
    assert not (tmp_path / "lost-1.json").exists() and not (tmp_path / "lost-2.json").exists()


# The receiver.


def test_the_receiver_verifies_both_schemes_for_whsec_and_plain_secrets(receiver: Receiver) -> None:
    # Given an endpoint path that expects two secrets, one of each kind
    receiver.expect_secrets("/hook", [WHSEC, PLAIN])
    body = json.dumps({"_id": "evt_1", "type": "location.created"}).encode()

    # When requests arrive signed by each secret alone, by both, and by neither
    for secrets in ([WHSEC], [PLAIN], [WHSEC, PLAIN], ["whsec_" + base64.b64encode(b"x" * 24).decode()]):
        assert post(receiver, "/hook", body, signed_headers(body, secrets))[0] == 200

    # Then each verifies under both schemes exactly with the secrets that signed it
    alone_whsec, alone_plain, both, stranger = receiver.requests("/hook")
    assert (alone_whsec.verified_standard, alone_whsec.verified_edrv) == (True, True)
    assert alone_whsec.matched_secrets == (WHSEC,)
    assert alone_plain.verified and alone_plain.matched_secrets == (PLAIN,)
    assert both.verified and both.matched_secrets == (WHSEC, PLAIN)
    assert not stranger.verified_standard and not stranger.verified_edrv
    assert stranger.matched_secrets == ()
    assert both.json == {"_id": "evt_1", "type": "location.created"}
    assert both.headers["webhook-id"] == "evt_1" and both.method == "POST"


def test_the_receiver_rejects_a_tampered_body_under_both_schemes(receiver: Receiver) -> None:
    # Given a correctly signed request
    receiver.expect_secrets("/hook", [WHSEC, PLAIN])
    body = b'{"amount": 10}'
    headers = signed_headers(body, [WHSEC, PLAIN])

    # When its body is changed on the way
    post(receiver, "/hook", b'{"amount": 99}', headers)

    # Then neither scheme verifies it, and the reasons are recorded
    [request] = receiver.requests("/hook")
    assert not request.verified_standard and not request.verified_edrv
    assert request.matched_secrets == ()
    assert len(request.errors) == 4


def test_status_replies_with_the_given_code_headers_and_body(receiver: Receiver) -> None:
    # Given a path told to answer 429 with Retry-After
    receiver.behave("/busy", status(429, headers={"Retry-After": "7"}, body="slow down"))

    # When a request arrives, then that is the answer
    code, headers, body = post(receiver, "/busy", b"{}")
    assert (code, headers["retry-after"], body) == (429, "7", b"slow down")
    # and another path still answers 200 by default
    assert post(receiver, "/other", b"{}")[0] == 200


def test_hang_answers_only_after_the_delay(receiver: Receiver) -> None:
    # Given a path that hangs 1 s
    receiver.behave("/slow", hang(1.0))

    # When a sender waits only 0.3 s, then it times out, yet the request was recorded
    with pytest.raises(TimeoutError):
        post(receiver, "/slow", b"{}", timeout=0.3)
    receiver.wait_for(1, path="/slow", timeout=1)

    # When a sender waits long enough, then it gets the 200 after about the delay
    started = time.monotonic()
    assert post(receiver, "/slow", b"{}", timeout=5)[0] == 200
    assert time.monotonic() - started >= 0.95


def test_sequence_and_alternate_follow_their_order_on_one_keep_alive_connection(receiver: Receiver) -> None:
    # Given one path with a sequence and one with an alternation
    receiver.behave("/seq", sequence([status(500), status(503), ok()]))
    receiver.behave("/alt", alternate(status(500), ok()))

    # When five requests go to each over a single kept-alive connection
    connection = http.client.HTTPConnection(receiver.host, receiver.port, timeout=5)
    codes: dict[str, list[int]] = {"/seq": [], "/alt": []}
    sockets = set()
    for path in ["/seq", "/alt"] * 5:
        connection.request("POST", path, body=b"{}")
        response = connection.getresponse()
        response.read()
        codes[path].append(response.status)
        sockets.add(id(connection.sock))
    connection.close()

    # Then the nth request got the nth reply (the last one repeating), and one socket served all
    assert codes == {"/seq": [500, 503, 200, 200, 200], "/alt": [500, 200, 500, 200, 500]}
    assert len(sockets) == 1


def test_a_plan_sees_the_request_and_its_number(receiver: Receiver) -> None:
    # Given a plan that echoes what it was given
    seen: list[tuple[str, int]] = []

    def plan(request: RecordedRequest, n: int) -> Reply:
        seen.append((request.json["k"], n))
        return status(201 + n)

    receiver.behave("/p", plan)

    # When two requests arrive, then the plan saw each with its 1-based number
    assert [post(receiver, "/p", json.dumps({"k": k}).encode())[0] for k in "ab"] == [202, 203]
    assert seen == [("a", 1), ("b", 2)]


def test_wait_for_lists_what_arrived_when_it_gives_up(receiver: Receiver) -> None:
    # Given one request on another path
    post(receiver, "/elsewhere", b'{"type": "session.started"}')

    # When a test waits for a request that never comes, then the error shows what did arrive
    with pytest.raises(AssertionError, match=r"(?s)got 0.*POST /elsewhere .*type=session.started"):
        receiver.wait_for(1, path="/hook", timeout=0.3)

    def predicate(r: RecordedRequest) -> bool:
        return r.json["type"] == "session.started"

    assert len(receiver.wait_for(1, predicate=predicate, timeout=1)) == 1


# SMTP.


def test_the_smtp_server_receives_a_mail_sent_by_django(smtp_server: SmtpServer) -> None:
    # Given a Django mail connection pointed at the server
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
    )

    # When a mail is sent
    send_mail(
        "Webhook disabled",
        "It failed for 5 days.",
        "alerts@example.com",
        ["ops@example.com"],
        connection=connection,
    )

    # Then the server has it, envelope and content
    [mail] = smtp_server.wait_for(1, timeout=5)
    assert (mail.mail_from, mail.to, mail.subject) == (
        "alerts@example.com",
        ["ops@example.com"],
        "Webhook disabled",
    )
    assert mail.body.strip() == "It failed for 5 days."
