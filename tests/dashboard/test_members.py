"""Members: every member sees who is in the organization; an admin adds members, changes roles and
removes members, and the organization always keeps an admin."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from organizations.models import Membership, Organization, Role
from tests.dashboard.conftest import LoginAs
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

NEWCOMER = {
    "username": "newcomer",
    "email": "new@example.com",
    "role": "developer",
    "password": "long-passphrase-42",
}


def test_an_admin_adds_a_member_who_can_log_in(admin: Client, organization: Organization) -> None:
    response = admin.post("/members/", NEWCOMER, follow=True)

    assert "newcomer added as developer." in response.content.decode()
    membership = Membership.objects.get(user__username="newcomer")
    assert (membership.organization, membership.role) == (organization, Role.DEVELOPER)
    assert Client().login(username="newcomer", password=NEWCOMER["password"])


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"password": "password"}, "This password is too common."),
        ({"username": "bad name!"}, "Enter a valid username."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_bad_input_is_refused_inline(admin: Client, change: dict, error: str) -> None:
    logins = User.objects.count()
    response = admin.post("/members/", {**NEWCOMER, **change})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert User.objects.count() == logins


def test_a_taken_username_is_refused(admin: Client) -> None:
    MembershipFactory.create(user__username="newcomer", user__password=None)
    response = admin.post("/members/", NEWCOMER)
    assert response.status_code == 400
    assert "A login with this username exists already." in response.content.decode()


def test_an_admin_changes_a_role(admin: Client, organization: Organization) -> None:
    member = MembershipFactory.create(organization=organization, role=Role.VIEWER, user__password=None)
    admin.post(f"/members/{member.pk}/role", {"role": Role.DEVELOPER})
    member.refresh_from_db()
    assert member.role == Role.DEVELOPER


def test_a_removed_member_is_logged_out_at_once(
    admin: Client, login_as: LoginAs, organization: Organization
) -> None:
    # Given a developer who is logged in
    developer = login_as(Role.DEVELOPER)
    member = Membership.objects.get(organization=organization, role=Role.DEVELOPER)
    assert developer.get("/").status_code == 200
    # When an admin removes them
    admin.post(f"/members/{member.pk}/remove")
    # Then their session opens nothing, and their login no longer works
    assert developer.get("/").status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert not User.objects.get(pk=member.user_id).is_active


@pytest.mark.parametrize(("path", "body"), [("role", {"role": Role.VIEWER}), ("remove", {})])
def test_the_last_admin_stays(admin: Client, organization: Organization, path: str, body: dict) -> None:
    # Given an organization whose only admin is the one logged in
    me = Membership.objects.get(organization=organization, role=Role.ADMIN)
    # When they demote or remove themselves
    response = admin.post(f"/members/{me.pk}/{path}", body, follow=True)
    # Then it is refused, saying why
    assert "The organization needs an admin: make another member an admin first." in response.content.decode()
    me.refresh_from_db()
    assert me.role == Role.ADMIN


def test_an_admin_may_step_down_when_another_remains(
    admin: Client, login_as: LoginAs, organization: Organization
) -> None:
    me = Membership.objects.get(organization=organization, role=Role.ADMIN)
    login_as(Role.ADMIN)
    admin.post(f"/members/{me.pk}/role", {"role": Role.VIEWER})
    me.refresh_from_db()
    assert me.role == Role.VIEWER


def test_every_member_sees_the_members(viewer: Client, organization: Organization) -> None:
    MembershipFactory.create(organization=organization, user__username="colleague", user__password=None)
    MembershipFactory.create(user__username="stranger", user__password=None)
    html = viewer.get("/members/").content.decode()
    assert "colleague" in html and "stranger" not in html
