import re
from collections import Counter
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Model
from django.db.models.signals import post_save
from django.test import Client
from rest_framework.test import APIClient

from chargestations.authorization_keys import authorization_key_matches
from chargestations.models import Chargestation, Connector, Location, PriceComponent, Rate
from organizations.models import ApiKey, Membership, Organization, Role
from sessions_app.models import Driver, IdTag

pytestmark = pytest.mark.django_db

SEEDED_MODELS: list[type[Model]] = [
    *(Organization, User, Membership, Location, Chargestation, Connector, Rate, PriceComponent, Driver, IdTag)
]


def seed() -> list[str]:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


def counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in SEEDED_MODELS}


@pytest.fixture
def saves() -> Iterator[Counter[str]]:
    """post_save signals sent, per model: what webhooks will listen to."""
    seen: Counter[str] = Counter()

    def count(sender: type[Model], created: bool, **kwargs: Any) -> None:
        if created:
            seen[sender._meta.label] += 1

    post_save.connect(count, dispatch_uid="tests.ops.saves", weak=False)
    yield seen
    post_save.disconnect(dispatch_uid="tests.ops.saves")


def test_first_run_builds_the_demo_network(saves: Counter[str]) -> None:
    # Given an empty database
    # When the demo is seeded
    lines = seed()

    # Then the organization, its admin login and its network exist
    organization = Organization.objects.get()
    assert (organization.name, organization.plan, organization.email) == (
        "Demo Charging Co",
        "pro",
        "ops@demo.example",
    )
    membership = Membership.objects.get(user__username="demo")
    assert (membership.organization, membership.role) == (organization, Role.ADMIN)
    assert Client().login(username="demo", password="demo-password-1")
    assert Location.objects.filter(organization=organization).count() == 2
    stations = Chargestation.objects.filter(organization=organization).order_by("endpoint")
    assert [s.endpoint for s in stations] == ["DEMO-CP-001", "DEMO-CP-002", "DEMO-CP-003"]
    assert all(station.connectors.count() == 2 for station in stations)
    rate = Rate.objects.get(organization=organization)
    assert sorted(rate.price_components.values_list("type", flat=True)) == ["ENERGY", "TIME"]
    assert Driver.objects.filter(organization=organization).count() == 2
    assert set(IdTag.objects.values_list("driver__organization", "type")) == {(organization.pk, "RFID")}
    assert IdTag.objects.count() == 2
    # ...created one by one, so that every model signal fired
    assert {label: saves[label] for label in counts()} == counts()

    # And the output shows the login and ends with a key the API accepts for the demo organization
    assert any("demo / demo-password-1" in line for line in lines)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {lines[-1]}")
    response = api.get("/api/v1/organization")
    assert (response.status_code, response.json()["_id"]) == (200, organization.public_id)
    assert ApiKey.objects.get().name == "demo (seed)"


def test_second_run_creates_nothing_but_a_new_key(key_owner: Callable[[str], Organization]) -> None:
    # Given a seeded database
    first_key = seed()[-1]
    before = counts()

    # When the demo is seeded again
    lines = seed()

    # Then no object was duplicated, and a new, working key was printed; the old one still works
    assert counts() == before
    assert "nothing to create" in lines[0]
    assert lines[-1] != first_key
    assert key_owner(lines[-1]) == key_owner(first_key)
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("demo (seed)", None)] * 2


def test_a_changed_demo_password_is_restored_so_the_printed_login_works() -> None:
    # Given a seeded demo whose password was changed since
    seed()
    user = User.objects.get(username="demo")
    user.set_password("something-else-entirely")
    user.save()

    # When the demo is seeded again
    seed()

    # Then the printed login works again
    assert Client().login(username="demo", password="demo-password-1")


def test_each_run_gives_the_demo_chargers_new_keys_and_prints_how_to_connect_with_them() -> None:
    # Given a seeded demo, seeded again (as every `make run` does)
    first, second = seed(), seed()

    # Then each run printed a simulator command per demo charger, with a key that works for it then
    def commands(lines: list[str]) -> dict[str, str]:
        pattern = r"simulate_charger (\S+)(?: --protocol \S+)? --authorization-key (\S+)$"
        found = [re.search(pattern, line) for line in lines]
        return {match.group(1): match.group(2) for match in found if match}

    assert list(commands(second)) == ["DEMO-CP-001", "DEMO-CP-002", "DEMO-CP-003"]
    for endpoint, key in commands(second).items():
        station = Chargestation.objects.get(endpoint=endpoint)
        assert authorization_key_matches(key=key, key_hash=station.authorization_key_hash)
        # And the first run's key was replaced
        assert not authorization_key_matches(
            key=commands(first)[endpoint], key_hash=station.authorization_key_hash
        )
    # And the API key is still the last line
    assert second[-1].startswith("edrv_")
