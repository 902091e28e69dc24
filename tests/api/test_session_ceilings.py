"""A session's `ceilings` through the API: set on a remote start or a PATCH, validated, shown, and
fixed once the session is over."""

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Organization
from sessions_app import services
from sessions_app.models import Session
from tests.factories import ChargestationFactory, SessionFactory

pytestmark = pytest.mark.django_db

ABOVE_ZERO = "A ceiling is more than 0."
NOT_A_CEILING = "Not a ceiling: the ceilings are energy, time and cost."
NOT_AN_OBJECT = "Expected an object with energy, time and/or cost (null or {} for none)."


@pytest.fixture
def session(organization: Organization) -> Session:
    return SessionFactory.create(chargestation__location__organization=organization, status="started")


def patch(api: APIClient, session: Session, ceilings: Any) -> Any:
    return api.patch(f"/api/v1/sessions/{session.public_id}", {"ceilings": ceilings}, format="json")


def test_a_remote_start_takes_ceilings_and_shows_them(api: APIClient, organization: Organization) -> None:
    # Given a chargestation of the organization
    station = ChargestationFactory.create(location__organization=organization)

    # When a session is started with all three ceilings
    response = api.post(
        "/api/v1/sessions",
        {"chargestation": station.public_id, "ceilings": {"cost": "12.5", "energy": 20000, "time": 3600}},
        format="json",
    )

    # Then it shows them (the cost a number), none reached yet, and stores the cost exactly
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ceilings"] == {"energy": 20000, "time": 3600, "cost": 12.5}
    assert [body[f"{kind}_ceiling_exceeded_at"] for kind in ("energy", "time", "cost")] == [None] * 3
    assert Session.objects.get(public_id=body["_id"]).ceilings == {
        "energy": 20000,
        "time": 3600,
        "cost": "12.50",
    }


def test_a_patch_replaces_the_ceilings_whole(api: APIClient, session: Session) -> None:
    # Given a running session with an energy and a time ceiling
    assert patch(api, session, {"energy": 20000, "time": 3600}).status_code == 200

    # When a PATCH gives only a cost ceiling
    response = patch(api, session, {"cost": 5})

    # Then that is the session's only ceiling
    assert response.status_code == 200, response.json()
    assert response.json()["ceilings"] == {"cost": 5.0}
    session.refresh_from_db()
    assert session.ceilings == {"cost": "5.00"}


@pytest.mark.parametrize("cleared", [None, {}], ids=["null", "empty"])
def test_null_or_an_empty_object_clears_the_ceilings(api: APIClient, session: Session, cleared: Any) -> None:
    # Given a session with a ceiling
    patch(api, session, {"energy": 20000})

    # When a PATCH gives null or {}
    response = patch(api, session, cleared)

    # Then it has none
    assert (response.status_code, response.json()["ceilings"]) == (200, {})
    session.refresh_from_db()
    assert session.ceilings == {}


@pytest.mark.parametrize(
    ("ceilings", "errors"),
    [
        ("20 kWh", [NOT_AN_OBJECT]),
        ([20000], [NOT_AN_OBJECT]),
        ({"energy": 20000, "power": 11, "Time": 1}, {"Time": [NOT_A_CEILING], "power": [NOT_A_CEILING]}),
        ({"energy": "lots"}, {"energy": ["A valid integer is required."]}),
        ({"energy": 0}, {"energy": [ABOVE_ZERO]}),
        ({"energy": -500}, {"energy": [ABOVE_ZERO]}),
        ({"energy": 12.5}, {"energy": ["A valid integer is required."]}),
        ({"energy": True}, {"energy": ["A valid integer is required."]}),
        ({"energy": None}, {"energy": ["This field may not be null."]}),
        ({"energy": 10**30}, {"energy": ["Ensure this value is less than or equal to 10000000."]}),
        ({"time": -1}, {"time": [ABOVE_ZERO]}),
        ({"time": {"hours": 1}}, {"time": ["A valid integer is required."]}),
        ({"time": 31 * 24 * 3600}, {"time": ["Ensure this value is less than or equal to 2592000."]}),
        ({"cost": "ten"}, {"cost": ["A valid number is required."]}),
        ({"cost": 0}, {"cost": [ABOVE_ZERO]}),
        ({"cost": -3}, {"cost": [ABOVE_ZERO]}),
        ({"cost": "1.005"}, {"cost": ["Ensure that there are no more than 2 decimal places."]}),
        ({"cost": "NaN"}, {"cost": ["A valid number is required."]}),
        ({"cost": [1]}, {"cost": ["A valid number is required."]}),
    ],
    ids=[
        "a string",
        "a list",
        "unknown keys",
        "energy not a number",
        "energy zero",
        "energy negative",
        "energy a fraction",
        "energy a boolean",
        "energy null",
        "energy huge",
        "time negative",
        "time an object",
        "time over 30 days",
        "cost not a number",
        "cost zero",
        "cost negative",
        "cost in tenths of cents",
        "cost NaN",
        "cost a list",
    ],
)
def test_bad_ceilings_are_a_400_that_names_the_field(
    api: APIClient, organization: Organization, session: Session, ceilings: Any, errors: Any
) -> None:
    # Given a running session, and a chargestation to start another on
    station = ChargestationFactory.create(location__organization=organization)

    # When bad ceilings are given on a PATCH, and on a remote start
    patched = patch(api, session, ceilings)
    started = api.post(
        "/api/v1/sessions", {"chargestation": station.public_id, "ceilings": ceilings}, format="json"
    )

    # Then both are a 400 that names the ceiling (or the field), and nothing changed
    assert (patched.status_code, patched.json()) == (400, {"ceilings": errors})
    assert (started.status_code, started.json()) == (400, {"ceilings": errors})
    session.refresh_from_db()
    assert session.ceilings == {}
    assert Session.objects.count() == 1


@pytest.mark.parametrize("status", ["ended", "cancelled", "start_failed"])
def test_the_ceilings_of_a_session_that_is_over_cannot_change(
    api: APIClient, organization: Organization, status: str
) -> None:
    # Given a session that is over, with an energy ceiling
    session = SessionFactory.create(
        chargestation__location__organization=organization, status=status, ceilings={"energy": 20000}
    )

    # When a PATCH changes its ceilings, or clears them
    changed = patch(api, session, {"energy": 30000})
    cleared = patch(api, session, None)
    # (the same ceilings again change nothing, and are fine)
    same = patch(api, session, {"energy": 20000})

    # Then the changes are a 400 that says why, and the ceilings are what the session ran with
    message = {"ceilings": [f"The session is {status}: its ceilings can no longer change."]}
    assert (changed.status_code, changed.json()) == (400, message)
    assert (cleared.status_code, cleared.json()) == (400, message)
    assert same.status_code == 200
    session.refresh_from_db()
    assert session.ceilings == {"energy": 20000}


def test_changing_ceilings_keeps_what_the_gateway_wrote_since_the_session_was_read(session: Session) -> None:
    # Given a copy of a running session read before the gateway metered it and marked a ceiling
    stale = Session.objects.get(pk=session.pk)
    reached = timezone.now()
    Session.objects.filter(pk=session.pk).update(
        metrics={"energyConsumed": 5000}, energy_ceiling_exceeded_at=reached
    )

    # When the ceilings are changed through that copy
    updated = services.session_update(session=stale, data={"ceilings": {"energy": 5000, "time": 3600}})

    # Then the gateway's writes stay, and the answer shows them
    session.refresh_from_db()
    assert (session.metrics, session.energy_ceiling_exceeded_at) == ({"energyConsumed": 5000}, reached)
    assert session.ceilings == {"energy": 5000, "time": 3600}
    assert updated.energy_ceiling_exceeded_at == reached


def test_the_openapi_schema_describes_the_ceilings(api: APIClient) -> None:
    # When the OpenAPI document is read
    schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]

    # Then a session's ceilings are an object of three optional numbers, and their marks read-only
    ceilings = schemas["Ceilings"]
    assert set(ceilings["properties"]) == {"energy", "time", "cost"}
    assert "required" not in ceilings
    assert ceilings["properties"]["energy"]["minimum"] == 1
    session = schemas["Session"]["properties"]
    assert session["ceilings"]["oneOf"] == [{"$ref": "#/components/schemas/Ceilings"}, {"type": "null"}]
    assert session["energy_ceiling_exceeded_at"]["readOnly"] is True
