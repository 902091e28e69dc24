"""What the receiver saw and answered, per endpoint path and `webhook-id`.

The receiver is the end-to-end harness's (tests/e2e/receiver.py): it records every request and
checks both signatures. A `Tally` wraps the reply plan of a path so that each request is also
booked with the answer it got: a request counts as *delivered* when it was answered 2xx within
the sender's timeout. A request answered only after it (a `hang`) is not delivered, even if the
late answer says 200: the sender gave up on it and will try again, as a real receiver would see.
"""

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass

from tests.e2e.receiver import Plan, RecordedRequest, Reply, hang, ok, status


@dataclass(frozen=True)
class Answer:
    path: str
    webhook_id: str
    status: int
    delivered: bool
    verified: bool  # both signatures verified with the endpoint's secret
    at: float  # when the request arrived (time.time())


class Tally:
    def __init__(self, *, send_timeout: float) -> None:
        self.send_timeout = send_timeout  # the product's WEBHOOKS_TIMEOUT
        self._lock = threading.Lock()
        self._answers: list[Answer] = []

    def replying(self, choose: Plan) -> Plan:
        """A plan that answers as `choose` does and books every request with its answer."""

        def plan(request: RecordedRequest, n: int) -> Reply:
            reply = choose(request, n)
            answer = Answer(
                path=request.path,
                webhook_id=request.headers.get("webhook-id", ""),
                status=reply.status,
                delivered=200 <= reply.status < 300 and reply.delay < self.send_timeout,
                verified=request.verified,
                at=request.received_at,
            )
            with self._lock:
                self._answers.append(answer)
            return reply

        return plan

    def answers(self, path: str) -> list[Answer]:
        with self._lock:
            return [a for a in self._answers if a.path == path]

    def received(self, path: str) -> set[str]:
        return {a.webhook_id for a in self.answers(path)}

    def delivered(self, path: str) -> Counter[str]:
        """How many times each webhook-id was delivered (answered 2xx in time)."""
        return Counter(a.webhook_id for a in self.answers(path) if a.delivered)

    def first_delivered_at(self, path: str) -> dict[str, float]:
        first: dict[str, float] = {}
        for answer in self.answers(path):
            if answer.delivered and answer.webhook_id not in first:
                first[answer.webhook_id] = answer.at
        return first

    def unverified(self, path: str) -> int:
        return sum(1 for a in self.answers(path) if not a.verified)


def flaky(timeout: float) -> Plan:
    """Half the requests get a 5xx; a quarter of the rest hang past the sender's `timeout`.

    A fixed cycle of eight replies (four 500/503, one hang, three 200) rather than dice: every run
    fails the same share. Each event walks the cycle on its own, its nth attempt getting the reply n
    places after where its id starts it, so that no event can be unlucky forever and "delivered
    within the retry schedule" is a property of the product, not of the seed: at most three
    failures in a row. (With one cycle for the whole path, the deliveries of a failing endpoint,
    sent one at a time in turn, could each meet the same places of the cycle: four of them taking
    turns, two never met a 200.)
    """
    cycle: list[Reply] = [
        status(500),
        ok(),
        status(503),
        hang(timeout * 2),
        status(500),
        ok(),
        status(502),
        ok(),
    ]
    attempts: Counter[str] = Counter()
    lock = threading.Lock()

    def reply(request: RecordedRequest, n: int) -> Reply:
        webhook_id = request.headers.get("webhook-id", "")
        with lock:
            attempts[webhook_id] += 1
            made = attempts[webhook_id]
        start = int(hashlib.sha256(webhook_id.encode()).hexdigest(), 16) % len(cycle)
        return cycle[(start + made - 1) % len(cycle)]

    return reply
