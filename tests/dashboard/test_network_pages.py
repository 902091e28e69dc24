"""The overview and the read-only network pages show the member's organization only."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from organizations.models import Organization
from sessions_app.models import Session
from tests.factories import ChargestationFactory, ConnectorFactory, LocationFactory, SessionFactory

pytestmark = pytest.mark.django_db


def words(client: Client, page: str) -> str:
    html = client.get(page).content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def network_of(organization: Organization, name: str) -> None:
    location = LocationFactory.create(organization=organization, name=f"{name} plaza")
    online = ChargestationFactory.create(location=location, name=f"{name} fast", online=True)
    ChargestationFactory.create(location=location, name=f"{name} slow")
    ConnectorFactory.create(chargestation=online, connector_number=1, status="Charging")
    SessionFactory.create(chargestation=online)
    yesterday = SessionFactory.create(chargestation=online)
    Session.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(days=2))


def test_the_overview_counts_this_organizations_network(
    admin: Client, organization: Organization, other_organization: Organization
) -> None:
    network_of(organization, "Ours")
    network_of(other_organization, "Theirs")
    network_of(other_organization, "Theirs too")
    page = words(admin, "/")
    assert "1 locations 2 chargestations 1 online now 1 sessions today" in page


@pytest.mark.parametrize(
    ("page", "ours"),
    [("/locations/", "Ours plaza"), ("/chargestations/", "Ours fast"), ("/sessions/", "Ours fast")],
)
def test_lists_show_only_this_organization(
    admin: Client, organization: Organization, other_organization: Organization, page: str, ours: str
) -> None:
    network_of(organization, "Ours")
    network_of(other_organization, "Theirs")
    text = words(admin, page)
    assert ours in text
    assert "Theirs" not in text


def test_chargestations_show_state_and_connectors(admin: Client, organization: Organization) -> None:
    network_of(organization, "Ours")
    text = words(admin, "/chargestations/")
    assert re.search(r"Ours fast CP-\d+ Ours plaza Online None #1 Charging", text)
    assert re.search(r"Ours slow CP-\d+ Ours plaza Offline None —", text)


def test_the_navigation_marks_the_current_page(admin: Client) -> None:
    html = admin.get("/sessions/").content.decode()
    assert re.search(r'<a href="/sessions/" aria-current="page">Sessions</a>', html)
    assert html.count('aria-current="page"') == 1


@pytest.mark.parametrize(
    ("page", "empty"),
    [
        ("/locations/", "No locations yet."),
        ("/chargestations/", "No chargestations yet."),
        ("/sessions/", "No sessions yet."),
    ],
)
def test_an_empty_list_says_so(admin: Client, page: str, empty: str) -> None:
    text = words(admin, page)
    assert empty in text and "<table" not in admin.get(page).content.decode()


def test_a_long_list_is_paginated(admin: Client, organization: Organization) -> None:
    LocationFactory.create_batch(51, organization=organization)

    first = admin.get("/locations/").content.decode()
    second = admin.get("/locations/?page=2").content.decode()

    assert first.count("<tr>") == 1 + 50 and second.count("<tr>") == 1 + 1
    assert "?page=2" in first


def test_sessions_show_their_ceilings_and_which_were_reached(
    admin: Client, organization: Organization
) -> None:
    # Given a session with three ceilings, the energy one reached, and a session with none
    station = ChargestationFactory.create(location__organization=organization, name="Ours fast")
    SessionFactory.create(chargestation=station, created_at=timezone.now() - timedelta(hours=1))
    SessionFactory.create(
        chargestation=station,
        status="started",
        ceilings={"energy": 20000, "time": 3600, "cost": "12.50"},
        energy_ceiling_exceeded_at=timezone.now(),
    )

    # When the sessions page is shown
    text = words(admin, "/sessions/")

    # Then the newest lists its ceilings, the energy one marked exceeded; the other shows a dash
    assert "Energy 20000 Wh exceeded Time 3600 s Cost 12.50 EUR" in text
    assert text.count("exceeded") == 1
    assert re.search(r"0\.00 EUR — ", text)
