import pytest
from rest_framework.test import APIClient

from chargestations.models import PriceComponent, Rate
from organizations.models import Organization
from tests.factories import ConnectorFactory, PriceComponentFactory, RateFactory

pytestmark = pytest.mark.django_db

ENERGY = {"type": "ENERGY", "price": 0.3, "tax": 21, "step_size": 1, "grace_period": 0}
PARKING = {"type": "PARKING_TIME", "price": 2, "tax": 21, "step_size": 60, "grace_period": 15}


def test_create_with_price_components(api: APIClient, organization: Organization) -> None:
    response = api.post(
        "/api/v1/rates",
        {"name": "Standard", "currency": "EUR", "minimum_amount": 1.5, "price_components": [ENERGY, PARKING]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["minimum_amount"] == 1.5
    assert sorted(body["price_components"], key=lambda pc: pc["type"]) == [
        {"type": "ENERGY", "price": 0.3, "tax": 21.0, "step_size": 1, "grace_period": 0},
        {"type": "PARKING_TIME", "price": 2.0, "tax": 21.0, "step_size": 60, "grace_period": 15},
    ]
    assert Rate.objects.get(public_id=body["_id"]).organization == organization


def test_a_write_with_price_components_replaces_the_whole_set(
    api: APIClient, organization: Organization
) -> None:
    rate = RateFactory.create(organization=organization)
    energy = PriceComponentFactory.create(rate=rate, type="ENERGY", price="0.3000")
    PriceComponentFactory.create(rate=rate, type="FLAT", price="1.0000")

    response = api.patch(
        f"/api/v1/rates/{rate.public_id}",
        {"price_components": [{**ENERGY, "price": 0.35}, PARKING]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    components = {pc["type"]: pc["price"] for pc in response.json()["price_components"]}
    assert components == {"ENERGY": 0.35, "PARKING_TIME": 2.0}
    assert set(rate.price_components.values_list("type", flat=True)) == {"ENERGY", "PARKING_TIME"}
    # The ENERGY component was changed in place, not dropped and re-created.
    assert PriceComponent.objects.get(rate=rate, type="ENERGY").pk == energy.pk


def test_a_write_without_price_components_keeps_them(api: APIClient, organization: Organization) -> None:
    rate = RateFactory.create(organization=organization)
    PriceComponentFactory.create(rate=rate, type="FLAT")

    response = api.patch(f"/api/v1/rates/{rate.public_id}", {"name": "Renamed"}, format="json")

    assert [pc["type"] for pc in response.json()["price_components"]] == ["FLAT"]


def test_an_empty_list_removes_every_component(api: APIClient, organization: Organization) -> None:
    rate = RateFactory.create(organization=organization)
    PriceComponentFactory.create(rate=rate, type="FLAT")

    response = api.put(
        f"/api/v1/rates/{rate.public_id}", {"name": "Free", "price_components": []}, format="json"
    )

    assert response.json()["price_components"] == []
    assert not rate.price_components.exists()


def test_a_duplicate_component_type_is_a_400_that_names_it(api: APIClient) -> None:
    response = api.post(
        "/api/v1/rates",
        {"name": "Twice", "price_components": [ENERGY, {**ENERGY, "price": 1}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "price_components": ["Duplicate price component type ENERGY: a rate has at most one of each type."]
    }
    assert not Rate.objects.exists()


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"currency": "eur"}, {"currency": ['"eur" is not an ISO 4217 currency code (e.g. "EUR").']}),
        ({"minimum_amount": -1}, {"minimum_amount": ["Ensure this value is greater than or equal to 0."]}),
        (
            {"price_components": [{**ENERGY, "tax": 101}]},
            {"price_components": {"0": {"tax": ["Ensure this value is less than or equal to 100."]}}},
        ),
        (
            {"price_components": [{**ENERGY, "type": "KWH"}]},
            {
                "price_components": {
                    "0": {
                        "type": [
                            '"KWH" is not a valid choice. Valid choices: FLAT, ENERGY, TIME, PARKING_TIME.'
                        ]
                    }
                }
            },
        ),
        (
            {"price_components": [{"type": "TIME"}]},
            {"price_components": {"0": {"price": ["This field is required."]}}},
        ),
        (
            {"price_components": [{**ENERGY, "step_size": 0}]},
            {"price_components": {"0": {"step_size": ["Ensure this value is greater than or equal to 1."]}}},
        ),
    ],
)
def test_bad_input_is_a_400_naming_each_field(api: APIClient, payload: dict, errors: dict) -> None:
    response = api.post("/api/v1/rates", {"name": "Bad", **payload}, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_deleting_a_rate_leaves_its_connectors_without_one(
    api: APIClient, organization: Organization
) -> None:
    rate = RateFactory.create(organization=organization)
    connector = ConnectorFactory.create(chargestation__location__organization=organization, rate=rate)

    response = api.delete(f"/api/v1/rates/{rate.public_id}")

    assert response.status_code == 204
    connector.refresh_from_db()
    assert connector.rate is None


def test_list_filters_on_active(api: APIClient, organization: Organization) -> None:
    active = RateFactory.create(organization=organization, active=True)
    RateFactory.create(organization=organization, active=False)

    body = api.get("/api/v1/rates?active=true").json()

    assert [item["_id"] for item in body["results"]] == [active.public_id]


def test_a_patch_with_an_incomplete_price_component_is_a_400(api: APIClient) -> None:
    rate = api.post("/api/v1/rates", {"name": "Day"}, format="json").json()

    response = api.patch(f"/api/v1/rates/{rate['_id']}", {"price_components": [{"price": 1}]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"price_components": ["Each price component needs a type and a price."]}
