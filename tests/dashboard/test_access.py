"""Who may do what: members only; viewers read, developers also change webhooks, admins also manage
keys and members; another organization's ids are 404, CSRF on every form, and a Free organization is
told webhooks need Starter and offered nothing that fails."""

import re
from typing import Any

import pytest
from django.test import Client

from organizations.models import ApiKey, Membership, Organization, Role
from organizations.services import api_key_create
from tests.dashboard.conftest import LoginAs
from tests.factories import EndpointFactory, MembershipFactory, UserFactory
from tests.pipeline import fan_out_waiting
from webhooks.models import Delivery, DeliveryStatus, Endpoint

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/locations/",
    "/chargestations/",
    "/sessions/",
    "/developers/webhooks/",
    "/developers/events/",
    "/developers/api-keys/",
    "/members/",
]
ENDPOINT_PAGES = [
    "/developers/webhooks/{wh}/",
    "/developers/webhooks/{wh}/deliveries/{delivery}/",
    "/developers/webhooks/{wh}/live?ids={delivery}",
]
CHANGE_PAGES = [
    "/developers/webhooks/new",
    "/developers/webhooks/{wh}/edit",
    "/developers/webhooks/{wh}/secret",
]
VALID_ENDPOINT = {"url": "http://127.0.0.1:9/changed", "events": ["session.started"], "alert_email": ""}
# Every POST of the dashboard with a body that would be accepted: a developer's, then an admin's.
WEBHOOK_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("/developers/webhooks/new", VALID_ENDPOINT),
    ("/developers/webhooks/{wh}/edit", VALID_ENDPOINT),
    ("/developers/webhooks/{wh}/rotate-secret", {}),
    ("/developers/webhooks/{wh}/send-test", {"type": "location.created"}),
    ("/developers/webhooks/{wh}/disable", {}),
    ("/developers/webhooks/{wh}/delete", {}),
    ("/developers/webhooks/{wh}/recover", {"since": "2020-01-01"}),
    ("/developers/webhooks/{wh}/deliveries/{delivery}/resend", {}),
]
ADMIN_CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("/developers/api-keys/", {"name": "ci", "scopes": ["network:read"]}),
    ("/developers/api-keys/{key}/revoke", {}),
    (
        "/members/",
        {
            "username": "newcomer",
            "email": "new@example.com",
            "role": "viewer",
            "password": "long-passphrase-42",
        },
    ),
    ("/members/{member}/role", {"role": "admin"}),
    ("/members/{member}/remove", {}),
]
CHANGES = WEBHOOK_CHANGES + ADMIN_CHANGES
# What each role sees only when it may use it.
DEVELOPER_CONTROLS = {"/developers/webhooks/": ["Add endpoint"], "/developers/webhooks/{wh}/": ["Rotate"]}
ADMIN_CONTROLS = {
    "/developers/api-keys/": ["Create key", "Revoke"],
    "/members/": ["Add member", "Change role", "Remove"],
}


def objects_of(organization: Organization) -> dict[str, Any]:
    endpoint = EndpointFactory.create(organization=organization)
    organization.name = f"{organization.name} renamed"  # raises organization.updated: one delivery
    organization.save()
    fan_out_waiting()  # a worker writes the event's delivery to the webhook
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    api_key, _ = api_key_create(organization=organization)
    member = MembershipFactory.create(organization=organization, role=Role.DEVELOPER, user__password=None)
    return {"wh": endpoint.public_id, "delivery": delivery.pk, "key": api_key.pk, "member": member.pk}


def snapshot(organization: Organization) -> list[Any]:
    """Everything a dashboard POST could change, to prove that a refused one changed nothing."""
    endpoints = Endpoint.objects.filter(organization=organization).order_by("pk")
    return [
        list(endpoints.values("url", "events", "secret", "active", "description", "alert_emails")),
        list(
            Delivery.objects.filter(endpoint__in=endpoints).order_by("pk").values("status", "attempt_count")
        ),
        list(ApiKey.objects.filter(organization=organization).order_by("pk").values("prefix", "revoked_at")),
        list(
            Membership.objects.filter(organization=organization)
            .order_by("pk")
            .values("user__username", "role", "user__is_active")
        ),
    ]


def test_pages_need_a_login() -> None:
    # Given no session; when any page is asked for; then the login page is offered, coming back after.
    for page in [*PAGES, "/developers/webhooks/new"]:
        response = Client().get(page)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={page}"


def test_a_login_without_a_membership_is_refused() -> None:
    # Given a user of no organization (an operator, say)
    client = Client()
    client.force_login(UserFactory.create(password=None))
    # When they open the dashboard; then it says why, with a 403
    response = client.get("/")
    assert response.status_code == 403
    assert "not a member of any organization" in response.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN])
def test_every_role_reads_every_page(login_as: LoginAs, organization: Organization, role: str) -> None:
    ids = objects_of(organization)
    client = login_as(role)
    for page in PAGES + ENDPOINT_PAGES:
        assert client.get(page.format(**ids)).status_code == 200, page


def test_a_viewer_cannot_open_forms_or_the_secret(viewer: Client, organization: Organization) -> None:
    ids = objects_of(organization)
    for page in CHANGE_PAGES:
        assert viewer.get(page.format(**ids)).status_code == 403, page


@pytest.mark.parametrize(("path", "body"), CHANGES)
def test_a_viewer_changes_nothing(viewer: Client, organization: Organization, path: str, body: dict) -> None:
    # Given a viewer and an organization with an endpoint, a delivery and a key
    ids = objects_of(organization)
    before = snapshot(organization)
    # When the viewer posts a change that a developer could make
    response = viewer.post(path.format(**ids), body)
    # Then it is refused and nothing changed
    assert response.status_code == 403
    assert snapshot(organization) == before


@pytest.mark.parametrize(("path", "body"), WEBHOOK_CHANGES)
def test_a_developer_may_change(login_as: LoginAs, organization: Organization, path: str, body: dict) -> None:
    ids = objects_of(organization)
    before = snapshot(organization)
    response = login_as(Role.DEVELOPER).post(path.format(**ids), body)
    assert response.status_code in (200, 302)
    assert snapshot(organization) != before  # a test event, too: it adds a delivery


@pytest.mark.parametrize(("path", "body"), ADMIN_CHANGES)
def test_a_developer_cannot_manage_keys_or_members(
    login_as: LoginAs, organization: Organization, path: str, body: dict
) -> None:
    # Given a developer
    developer = login_as(Role.DEVELOPER)
    ids = objects_of(organization)
    before = snapshot(organization)
    # When they create or revoke a key, or add, promote or remove a member
    response = developer.post(path.format(**ids), body)
    # Then the 403 page says it takes an admin, and nothing changed
    assert response.status_code == 403
    assert "Only an admin may do this, and your role is developer." in response.content.decode()
    assert snapshot(organization) == before


@pytest.mark.parametrize(("path", "body"), ADMIN_CHANGES)
def test_an_admin_may_manage_keys_and_members(
    admin: Client, organization: Organization, path: str, body: dict
) -> None:
    ids = objects_of(organization)
    before = snapshot(organization)
    response = admin.post(path.format(**ids), body)
    assert response.status_code in (200, 302)
    assert snapshot(organization) != before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN])
def test_each_role_is_offered_only_what_it_may_do(
    login_as: LoginAs, organization: Organization, role: str
) -> None:
    ids = objects_of(organization)
    client = login_as(role)
    for controls, allowed in (
        (DEVELOPER_CONTROLS, role != Role.VIEWER),
        (ADMIN_CONTROLS, role == Role.ADMIN),
    ):
        for page, labels in controls.items():
            html = client.get(page.format(**ids)).content.decode()
            for label in labels:
                assert (label in html) is allowed, (role, page, label)


def test_another_organizations_endpoint_is_404_everywhere(
    admin: Client, other_organization: Organization
) -> None:
    # Given an admin, and another organization's endpoint, delivery and key
    theirs = objects_of(other_organization)
    before = snapshot(other_organization)
    # When the admin reads or changes them by id
    for page in ENDPOINT_PAGES + CHANGE_PAGES[1:]:
        assert admin.get(page.format(**theirs)).status_code == 404, page
    for path, body in [(path, body) for path, body in CHANGES if "{" in path]:
        assert admin.post(path.format(**theirs), body).status_code == 404, path
    # Then nothing of theirs changed, and nothing of theirs is listed
    assert snapshot(other_organization) == before
    listed = admin.get("/developers/webhooks/").content.decode()
    assert theirs["wh"] not in listed


def test_a_delivery_of_another_endpoint_is_404(admin: Client, organization: Organization) -> None:
    # Given one of our endpoints, and a delivery that belongs to another organization's endpoint
    ours = EndpointFactory.create(organization=organization)
    theirs = objects_of(Organization.objects.create(name="Other", email="o@example.com", plan="starter"))
    # When it is resent through our endpoint's page; then it is not found
    path = f"/developers/webhooks/{ours.public_id}/deliveries/{theirs['delivery']}/resend"
    assert admin.post(path).status_code == 404
    assert Delivery.objects.get(pk=theirs["delivery"]).status == DeliveryStatus.FAILED


def test_a_post_without_the_csrf_token_is_refused(login_as: LoginAs, organization: Organization) -> None:
    # Given a logged-in admin whose browser enforces CSRF checks, as a real one does
    endpoint = EndpointFactory.create(organization=organization)
    client = login_as(Role.ADMIN, enforce_csrf_checks=True)
    page = client.get(f"/developers/webhooks/{endpoint.public_id}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    # When a form is posted without its token (a forged cross-site request); then it is refused
    assert client.post(f"/developers/webhooks/{endpoint.public_id}/disable").status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.active
    # And with the page's token it goes through
    response = client.post(
        f"/developers/webhooks/{endpoint.public_id}/disable", {"csrfmiddlewaretoken": token.group(1)}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.active


@pytest.mark.parametrize(
    "page",
    [
        "/developers/webhooks/{wh}/",
        "/developers/webhooks/new",
        "/developers/api-keys/",
        "/members/",
        "/login/",
    ],
)
def test_every_post_form_carries_a_csrf_token(admin: Client, organization: Organization, page: str) -> None:
    ids = objects_of(organization)
    client = admin if page != "/login/" else Client()
    html = client.get(page.format(**ids)).content.decode()
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, flags=re.DOTALL)
    assert forms
    assert all('name="csrfmiddlewaretoken"' in form for form in forms)


def test_a_free_organization_is_told_and_offered_nothing_that_fails(
    login_as: LoginAs, free_organization: Organization
) -> None:
    # Given an admin of a Free organization that still has an endpoint from a paid past
    ids = objects_of(free_organization)
    client = login_as(Role.ADMIN, organization=free_organization)
    before = snapshot(free_organization)
    # When they open Developers > Webhooks and the endpoint's page
    for page in ["/developers/webhooks/", f"/developers/webhooks/{ids['wh']}/"]:
        html = client.get(page).content.decode()
        # Then each says webhooks need Starter, and has no form but logout's and the log's filter
        assert "Webhooks need the Starter tier" in html
        assert "Add endpoint" not in html
        assert re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html) == ["/logout/"]
    # And every change is refused with the same message, changing nothing
    for path, body in WEBHOOK_CHANGES:
        response = client.post(path.format(**ids), body)
        assert response.status_code == 403, path
        assert "Starter tier" in response.content.decode()
    assert client.get("/developers/webhooks/new").status_code == 403
    assert snapshot(free_organization) == before


def test_logout_is_a_post(admin: Client) -> None:
    assert admin.get("/logout/").status_code == 405
    assert admin.post("/logout/").status_code == 302
    assert admin.get("/").status_code == 302
