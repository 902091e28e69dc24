"""Developers > Webhooks: the list, the add and edit form, and the endpoint page's actions."""

import html as html_module
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from organizations.models import Organization, Role
from tests.dashboard.conftest import LoginAs
from tests.dashboard.deliveries import delivery_of
from tests.factories import EndpointFactory, MembershipFactory, UserFactory
from webhooks.catalog.types import SUBSCRIBABLE, Category
from webhooks.endpoints.services import DISABLED_BY_USER, endpoint_disable
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db

NEW = "/developers/webhooks/new"


def page_of(endpoint: Endpoint, action: str = "") -> str:
    return f"/developers/webhooks/{endpoint.public_id}/{action}"


def text(response: object) -> str:
    """The page's text without tags and with single spaces: what a reader sees."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_list_shows_state_types_recent_success_and_last_delivery(
    admin: Client, organization: Organization
) -> None:
    # Given an active endpoint with 3 of 4 recent attempts successful (and an older failure),
    # one disabled by its owner and one disabled for failures
    healthy = EndpointFactory.create(organization=organization, events=["session.started", "session.ended"])
    delivery_of(healthy, attempts=[(500, ""), (200, "")])
    delivery_of(healthy, attempts=[(200, ""), (204, "")])
    delivery_of(healthy, at=timezone.now() - timedelta(days=2), attempts=[(None, "timed out")])
    paused = EndpointFactory.create(organization=organization)
    endpoint_disable(endpoint_id=paused.pk, reason=DISABLED_BY_USER)
    broken = EndpointFactory.create(organization=organization)
    endpoint_disable(endpoint_id=broken.pk, reason="The endpoint answered 410 Gone.")
    # When the list is opened
    page = text(admin.get("/developers/webhooks/"))
    # Then each endpoint says how it is doing
    row = page[page.index(healthy.url) :]
    assert re.match(rf"{re.escape(healthy.url)} Active 2 75% \(3/4\) \d{{4}}-\d\d-\d\d", row)
    assert f"{paused.url} Disabled by you" in page
    assert f"{broken.url} Disabled for failures The endpoint answered 410 Gone." in page
    assert page.count("No attempts") == 2


def test_the_new_form_defaults_alerts_to_the_admin_and_groups_events(
    login_as: LoginAs, organization: Organization
) -> None:
    # Given an organization whose admin has an email of their own
    admin_user = UserFactory.create(password=None, email="admin@operator.example")
    MembershipFactory.create(user=admin_user, organization=organization, role=Role.ADMIN)
    # When a developer opens the form
    html = login_as(Role.DEVELOPER).get(NEW).content.decode()
    # Then the alert email is the admin's, each category can be selected at once, every type is offered
    assert re.search(r'name="alert_email" value="admin@operator.example"', html)
    assert html.count("data-select-all") == len(Category) == 5
    assert re.search(r'value="session.stop_cost_ceiling_exceeded">', html)
    assert "<legend>Webhook operations</legend>" in html and re.search(r'value="webhook.disabled">', html)
    assert not re.search(r'name="events"[^>]*\sdisabled', html)  # the attribute (webhook.disabled is a type)
    assert html.count('name="events"') == len(SUBSCRIBABLE)


def test_adding_an_endpoint(admin: Client, organization: Organization) -> None:
    # When a valid endpoint is posted
    response = admin.post(
        NEW,
        {
            "url": "http://127.0.0.1:9/hooks",
            "description": "Billing",
            "alert_email": "ops@operator.example",
            "more_alert_emails": "a@operator.example, b@operator.example\nops@operator.example",
            "events": ["session.started", "location.created"],
        },
    )
    # Then it exists as given, and its page is shown
    endpoint = Endpoint.objects.get(organization=organization)
    assert response.status_code == 302
    assert response["Location"] == page_of(endpoint)
    assert endpoint.url == "http://127.0.0.1:9/hooks"
    assert endpoint.events == ["location.created", "session.started"]
    assert endpoint.description == "Billing"
    assert endpoint.alert_emails == ["ops@operator.example", "a@operator.example", "b@operator.example"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "http://10.0.0.7/hook"}, "This URL cannot receive webhooks: private address 10.0.0.7."),
        (
            {"url": "http://169.254.169.254/"},
            "This URL cannot receive webhooks: link-local address 169.254.169.254.",
        ),
        ({"url": "https://"}, "Enter a valid URL, e.g. https://example.com/hooks."),
        (
            {"url": "ftp://example.com/x"},
            "This URL cannot receive webhooks: the URL must start with https://.",
        ),
        ({"events": []}, "Choose at least one event type (see GET /api/v1/event-types)."),
        (
            {"events": ["session.stop_duration_ceiling_exceeded"]},
            '"session.stop_duration_ceiling_exceeded" is not an event type. The valid ones are listed at '
            "GET /api/v1/event-types.",
        ),
        (
            {"events": ["nope.nothing"]},
            '"nope.nothing" is not an event type. The valid ones are listed at GET /api/v1/event-types.',
        ),
        ({"more_alert_emails": "ok@example.com, not-an-address"}, "Enter a valid email address."),
    ],
)
def test_errors_are_shown_inline(
    admin: Client, organization: Organization, changes: dict, message: str
) -> None:
    # Given a form with one bad field
    data = {"url": "http://127.0.0.1:9/hooks", "events": ["session.started"], **changes}
    # When it is posted; then nothing is created and the form says why, next to the field
    response = admin.post(NEW, data)
    assert response.status_code == 400
    assert not Endpoint.objects.exists()
    html = response.content.decode()
    assert message in html_module.unescape(text(response))
    assert 'class="errorlist' in html
    assert 'aria-invalid="true"' in html or 'id="events-error"' in html


def test_a_rejected_form_keeps_what_was_chosen(admin: Client) -> None:
    response = admin.post(NEW, {"url": "http://10.0.0.7/", "events": ["rate.created"]})
    assert re.search(r'value="rate.created"\s+checked', response.content.decode())
    assert 'value="http://10.0.0.7/"' in response.content.decode()


def test_editing_an_endpoint(admin: Client, organization: Organization) -> None:
    # Given an endpoint
    endpoint = EndpointFactory.create(
        organization=organization, events=["rate.created"], alert_emails=["a@x.example", "b@x.example"]
    )
    # When its form is opened, it shows what is stored
    html = admin.get(page_of(endpoint, "edit")).content.decode()
    assert re.search(r'value="rate.created"\s+checked', html)
    assert 'value="a@x.example"' in html and "b@x.example</textarea>" in html
    # And when it is changed, the endpoint is
    data = {"url": "http://127.0.0.1:9/new", "events": ["user.created"], "alert_email": "c@x.example"}
    assert admin.post(page_of(endpoint, "edit"), data).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.alert_emails) == (
        "http://127.0.0.1:9/new",
        ["user.created"],
        ["c@x.example"],
    )


def test_the_secret_is_revealed_only_on_request(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    # The page itself does not carry it
    assert endpoint.secret not in admin.get(page_of(endpoint)).content.decode()
    # The reveal script gets it as text, never cached
    revealed = admin.get(page_of(endpoint, "secret"), headers={"X-Requested-With": "fetch"})
    assert revealed.content.decode() == endpoint.secret
    assert revealed["Cache-Control"] == "no-store"
    # Without the script, the link opens a page that shows it
    assert endpoint.secret in admin.get(page_of(endpoint, "secret")).content.decode()


def test_rotating_the_secret(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    old = endpoint.secret
    response = admin.post(page_of(endpoint, "rotate-secret"), follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert "Secret rotated" in text(response)
    assert "The previous secret also signs, beside this one, until" in text(response)


def test_sending_a_test_event(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization, events=["session.started"])
    # The chosen type is preselected from the subscription
    assert re.search(
        r'<option value="session.started" selected>', admin.get(page_of(endpoint)).content.decode()
    )
    response = admin.post(page_of(endpoint, "send-test"), {"type": "rate.updated"}, follow=True)
    delivery = Delivery.objects.select_related("event").get(endpoint=endpoint)
    assert delivery.event.is_test and delivery.event.type == "rate.updated"
    assert delivery.status == DeliveryStatus.PENDING
    assert "Test rate.updated event queued" in text(response)


def test_disabling_and_enabling(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    # Disabled by its owner, it says so and since when, and offers to enable it
    page = text(admin.post(page_of(endpoint, "disable"), follow=True))
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.disabled_reason == DISABLED_BY_USER
    assert "Disabled by you Since" in page and "Enable endpoint" in page
    assert "Send test event" not in page
    # Enabled again, it is active with a clean slate
    admin.post(page_of(endpoint, "enable"))
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.disabled_at is None


def test_an_endpoint_disabled_for_failures_says_why(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    endpoint_disable(endpoint_id=endpoint.pk, reason="No successful delivery since 2026-01-01 10:00 UTC.")
    page = text(admin.get(page_of(endpoint)))
    assert "Disabled for failures: No successful delivery since 2026-01-01 10:00 UTC. Since" in page


def test_a_disabled_endpoint_sends_no_test(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    endpoint_disable(endpoint_id=endpoint.pk, reason=DISABLED_BY_USER)
    response = admin.post(page_of(endpoint, "send-test"), {"type": "rate.updated"}, follow=True)
    assert "This endpoint is disabled: enable it first." in text(response)
    assert not Event.objects.filter(is_test=True).exists()


def test_deleting_an_endpoint(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    response = admin.post(page_of(endpoint, "delete"), follow=True)
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert response.redirect_chain[-1][0] == "/developers/webhooks/"
    assert f"Endpoint {endpoint.url} deleted." in text(response)


def test_resending_a_failed_delivery(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    failed = delivery_of(endpoint, status=DeliveryStatus.FAILED, attempts=[(500, "")])
    response = admin.post(page_of(endpoint, f"deliveries/{failed.pk}/resend"), follow=True)
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING and failed.next_attempt_at is not None
    assert f"Delivery {failed.pk} queued again." in text(response)


def test_recovering_failed_deliveries_since_a_day(admin: Client, organization: Organization) -> None:
    # Given failures from three days ago and from today
    endpoint = EndpointFactory.create(organization=organization)
    old = delivery_of(endpoint, status=DeliveryStatus.FAILED, at=timezone.now() - timedelta(days=3))
    recent = delivery_of(endpoint, status=DeliveryStatus.SKIPPED)
    done = delivery_of(endpoint, status=DeliveryStatus.SUCCEEDED)
    # When those since yesterday are recovered
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    response = admin.post(page_of(endpoint, "recover"), {"since": since}, follow=True)
    # Then only today's failure is queued again
    statuses = {d.pk: d.status for d in Delivery.objects.all()}
    assert statuses == {old.pk: "failed", recent.pk: "pending", done.pk: "succeeded"}
    assert "1 failed or skipped deliveries queued again." in text(response)


def test_recovering_from_the_future_is_refused(admin: Client, organization: Organization) -> None:
    endpoint = EndpointFactory.create(organization=organization)
    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    response = admin.post(page_of(endpoint, "recover"), {"since": tomorrow}, follow=True)
    assert "The day must not be in the future." in text(response)
