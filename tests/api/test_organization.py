import pytest
from rest_framework.test import APIClient

from organizations.models import Organization, Plan

pytestmark = pytest.mark.django_db


def test_get_shows_the_keys_organization(api: APIClient, organization: Organization) -> None:
    response = api.get("/api/v1/organization")

    assert response.status_code == 200
    body = response.json()
    assert body["_id"] == organization.public_id
    assert body["name"] == organization.name
    assert body["plan"] == "starter"
    assert set(body) == {
        "_id",
        "name",
        "email",
        "plan",
        "currency",
        "timezone",
        "address",
        "meta_data",
        "createdAt",
        "updatedAt",
    }


def test_patch_changes_the_details_but_never_the_plan(api: APIClient, organization: Organization) -> None:
    response = api.patch(
        "/api/v1/organization",
        {
            "name": "Renamed",
            "currency": "USD",
            "timezone": "America/New_York",
            "address": {"city": "Boston", "country": "US"},
            "plan": Plan.ENTERPRISE,
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    organization.refresh_from_db()
    assert (organization.name, organization.currency, organization.timezone) == (
        "Renamed",
        "USD",
        "America/New_York",
    )
    assert organization.address == {"city": "Boston", "country": "US"}
    assert organization.plan == Plan.STARTER
    assert response.json()["plan"] == "starter"


def test_patch_with_bad_input_is_a_400(api: APIClient, organization: Organization) -> None:
    response = api.patch(
        "/api/v1/organization", {"email": "nope", "currency": "Euro", "name": ""}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"email", "currency", "name"}
    organization.refresh_from_db()
    assert organization.name != ""


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_other_methods_are_not_allowed(api: APIClient, method: str) -> None:
    response = getattr(api, method)("/api/v1/organization", {}, format="json")

    assert response.status_code == 405
