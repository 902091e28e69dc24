"""The admin changes members through the services: the last admin stays one, and it is audited."""

import pytest
from django.test import Client
from django.urls import reverse

from organizations.models import AuditEntry, Membership, Organization, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_a_role_changed_in_the_admin_is_audited_with_the_operator(
    admin_client: Client, organization: Organization
) -> None:
    MembershipFactory.create(organization=organization, role=Role.ADMIN)
    member = MembershipFactory.create(organization=organization, role=Role.VIEWER)

    response = admin_client.post(
        reverse("admin:organizations_membership_change", args=[member.pk]), {"role": Role.DEVELOPER}
    )

    assert response.status_code == 302
    assert Membership.objects.get(pk=member.pk).role == Role.DEVELOPER
    entry = AuditEntry.objects.get(organization=organization, action="member.role_changed")
    assert (entry.actor_type, entry.actor_name) == ("user", "admin")


def test_the_admin_cannot_demote_the_last_admin(admin_client: Client, organization: Organization) -> None:
    only = MembershipFactory.create(organization=organization, role=Role.ADMIN)

    admin_client.post(reverse("admin:organizations_membership_change", args=[only.pk]), {"role": Role.VIEWER})

    assert Membership.objects.get(pk=only.pk).role == Role.ADMIN


def test_a_member_removed_in_the_admin_is_audited(admin_client: Client, organization: Organization) -> None:
    MembershipFactory.create(organization=organization, role=Role.ADMIN)
    member = MembershipFactory.create(organization=organization, role=Role.VIEWER)

    admin_client.post(reverse("admin:organizations_membership_delete", args=[member.pk]), {"post": "yes"})

    assert not Membership.objects.filter(pk=member.pk).exists()
    assert AuditEntry.objects.filter(organization=organization, action="member.removed").count() == 1
