"""The webhook and the delivery an example operational event is about, as each type finds them.

Unsaved rows (their serializers read nothing else), shared by the examples made for an organization
(webhooks.schemas.examples) and those the OpenAPI document publishes (published_examples): the same
shapes, the same states, `at` the moment of the example.
"""

from datetime import datetime, timedelta

from django.db.models import Model

from organizations.models import Organization
from webhooks.catalog.operational_serializers import with_last_error
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event

_FAILING_FOR = {"webhook.failing": timedelta(days=1), "webhook.disabled": timedelta(days=5)}
_FAILURES = {"webhook.failing": 6, "webhook.disabled": 14, "delivery.exhausted": 8}


def _failed_attempt(at: datetime) -> Attempt:
    return Attempt(
        created_at=at,
        duration_ms=212,
        status_code=503,
        response_excerpt="upstream is down",
        error="",
        succeeded=False,
    )


def operational_rows(
    type_name: str, *, organization: Organization, at: datetime
) -> dict[str, tuple[Model, Model]]:
    """(subject, changed object) for the catalog's `webhook` and `delivery` objects."""
    failing_for = _FAILING_FOR.get(type_name)
    failing_since = at - failing_for if failing_for else None
    endpoint = Endpoint(
        organization=organization,
        public_id="wh_5f8d0d55b54764421b7156c9",
        url="https://example.com/webhooks/edrv",
        secret="",  # never shown: not even generated, so that nothing of the example is random
        events=["session.ended", "session.started"],
        description="Billing",
        alert_emails=["ops@example.com"],
        headers={"x-tenant": "north"},
        active=type_name != "webhook.disabled",
        failing_since=failing_since,
        consecutive_failures=_FAILURES.get(type_name, 0) if failing_since else 0,
        failing_warned_at=at if type_name == "webhook.failing" else None,
        created_at=at - timedelta(days=30),
        updated_at=at,
    )
    if type_name == "webhook.disabled":
        assert failing_since is not None
        endpoint.disabled_at = at
        endpoint.disabled_reason = (
            f"No successful delivery since {failing_since:%Y-%m-%d %H:%M} UTC "
            f"({endpoint.consecutive_failures} failed attempts in a row)."
        )
    with_last_error(endpoint, _failed_attempt(at) if failing_since else None)
    event = Event(
        organization=organization,
        public_id="65f1c0a1b2c3d4e5f6a7b8f0",
        type="session.ended",
        object="session",
        data={},
        created_at=at - timedelta(days=3),
    )
    delivery = Delivery(
        pk=1042,
        event=event,
        endpoint=endpoint,
        status=DeliveryStatus.FAILED,
        attempt_count=_FAILURES["delivery.exhausted"],
        last_attempt_at=at,
        last_status_code=503,
        created_at=event.created_at,
    )
    with_last_error(delivery, _failed_attempt(at))
    return {"webhook": (endpoint, endpoint), "delivery": (delivery, delivery)}
