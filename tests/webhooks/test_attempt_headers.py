"""What an attempt keeps of its exchange, for the delivery page: the request's headers as sent (the
values of the endpoint's custom headers left out), and the response's, bounded."""

import pytest

from organizations.models import Organization
from tests.e2e.receiver import Receiver, status
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from webhooks.delivery.http import MAX_RESPONSE_HEADER_VALUE, MAX_RESPONSE_HEADERS
from webhooks.models import Attempt, Endpoint

pytestmark = pytest.mark.django_db


def attempt_at(receiver: Receiver, organization: Organization, **fields: object) -> tuple[Attempt, Endpoint]:
    """The pipeline's attempt at delivering a new location's event to the receiver's /hook."""
    endpoint = EndpointFactory.create(
        organization=organization, url=receiver.url("/hook"), events=["location.created"], **fields
    )
    receiver.expect_secrets("/hook", [endpoint.secret])
    LocationFactory.create(organization=organization)
    assert deliver_waiting() == 1
    return Attempt.objects.get(delivery__endpoint=endpoint), endpoint


def test_the_request_headers_are_kept_as_sent_custom_values_left_out(
    receiver: Receiver, organization: Organization
) -> None:
    # Given an endpoint with a custom header carrying the customer's credential
    attempt, endpoint = attempt_at(receiver, organization, headers={"authorization": "Bearer sk_live_42"})
    [request] = receiver.wait_for(1, path="/hook")
    # Then the attempt keeps every header the receiver got, in the order sent, but that value
    kept = attempt.headers["request"]
    assert kept[0] == ["authorization", None]
    assert [name for name, _ in kept] == [
        "authorization",
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "edrv-signature",
    ]
    assert all(request.headers[name] == value for name, value in kept[1:])
    assert "sk_live_42" not in str(attempt.headers) and endpoint.secret not in str(attempt.headers)


def test_the_response_headers_are_kept_in_order_and_bounded(
    receiver: Receiver, organization: Organization
) -> None:
    # Given a receiver that answers with more headers than an attempt keeps, one of them very long
    many = {f"X-Trace-{n:02d}": f"value {n}" for n in range(MAX_RESPONSE_HEADERS + 10)}
    receiver.behave("/hook", status(200, headers={"X-Long": "z" * 5000, **many}))
    # When it is delivered to
    attempt, _ = attempt_at(receiver, organization)
    # Then the headers kept start as sent, the long value cut where an ellipsis says so, the rest left
    # out, and the attempt says it is truncated
    response = attempt.headers["response"]
    assert [name for name, _ in response[:4]] == [
        "Server",
        "Date",
        "X-Long",
        "X-Trace-00",
    ]  # the server's first
    assert response[2][1] == "z" * MAX_RESPONSE_HEADER_VALUE + "…"
    assert len(response) == MAX_RESPONSE_HEADERS
    assert attempt.headers["response_truncated"] is True


def test_a_plain_answer_is_kept_whole(receiver: Receiver, organization: Organization) -> None:
    receiver.behave("/hook", status(204, headers={"X-Request-Id": "req-1"}))
    attempt, _ = attempt_at(receiver, organization)
    assert ["X-Request-Id", "req-1"] in attempt.headers["response"]
    assert "response_truncated" not in attempt.headers
