from collections.abc import Callable

import pytest
from django.test import Client

from organizations.models import Membership, Organization, Plan, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

LoginAs = Callable[..., Client]


@pytest.fixture
def login_as(organization: Organization) -> LoginAs:
    """`login_as(role, organization=...)`: a browser-like client logged in as a new member."""

    def make(
        role: str = Role.ADMIN, organization: Organization = organization, enforce_csrf_checks: bool = False
    ) -> Client:
        # No password: hashing one costs a second, and force_login needs none.
        user = UserFactory.create(password=None)
        membership: Membership = MembershipFactory.create(user=user, organization=organization, role=role)
        client = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.force_login(membership.user)
        return client

    return make


@pytest.fixture
def admin(login_as: LoginAs) -> Client:
    return login_as(Role.ADMIN)


@pytest.fixture
def viewer(login_as: LoginAs) -> Client:
    return login_as(Role.VIEWER)


@pytest.fixture
def other_organization() -> Organization:
    return OrganizationFactory.create(name="Someone else")


@pytest.fixture
def free_organization() -> Organization:
    return OrganizationFactory.create(name="Free rider", plan=Plan.FREE)
