import pytest
from rest_framework.test import APIClient

from organizations.models import Organization
from sessions_app.models import Driver, IdTag
from tests.factories import DriverFactory, IdTagFactory, SessionFactory

pytestmark = pytest.mark.django_db


def test_create_a_user_with_id_tags(api: APIClient, organization: Organization) -> None:
    response = api.post(
        "/api/v1/users",
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.com",
            "phone": "+31 20 123 4567",
            "id_tags": [
                {"token": "04A2B3C4", "type": "RFID"},
                {"token": "APP-1", "type": "VIRTUAL", "active": False},
            ],
            "meta_data": {"fleet": "north"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id_tags"] == [
        {"token": "04A2B3C4", "type": "RFID", "active": True},
        {"token": "APP-1", "type": "VIRTUAL", "active": False},
    ]
    driver = Driver.objects.get(public_id=body["_id"])
    assert driver.organization == organization
    assert set(IdTag.objects.filter(organization=organization).values_list("token", flat=True)) == {
        "04A2B3C4",
        "APP-1",
    }


def test_id_tags_given_on_a_write_replace_the_whole_set(api: APIClient, organization: Organization) -> None:
    driver = DriverFactory.create(organization=organization)
    kept = IdTagFactory.create(driver=driver, token="KEEP")
    IdTagFactory.create(driver=driver, token="DROP")

    response = api.patch(
        f"/api/v1/users/{driver.public_id}",
        {"id_tags": [{"token": "KEEP", "active": False}, {"token": "NEW"}]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert {tag["token"]: tag["active"] for tag in response.json()["id_tags"]} == {"KEEP": False, "NEW": True}
    assert IdTag.objects.get(token="KEEP").pk == kept.pk
    assert not IdTag.objects.filter(token="DROP").exists()


def test_a_token_of_another_user_is_a_400_that_names_it(api: APIClient, organization: Organization) -> None:
    IdTagFactory.create(driver__organization=organization, token="SHARED")

    response = api.post(
        "/api/v1/users",
        {"first_name": "Bob", "id_tags": [{"token": "OK-1"}, {"token": "SHARED"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {"id_tags": ['Token "SHARED" is already in use in this organization.']}
    assert not Driver.objects.filter(first_name="Bob").exists()
    assert not IdTag.objects.filter(token="OK-1").exists()


def test_the_same_token_in_another_organization_is_fine(
    api: APIClient, other_organization: Organization
) -> None:
    IdTagFactory.create(driver__organization=other_organization, token="SHARED")

    response = api.post("/api/v1/users", {"id_tags": [{"token": "SHARED"}]}, format="json")

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"id_tags": [{"token": "A"}, {"token": "A"}]},
            {"id_tags": ['Token "A" is listed twice.']},
        ),
        (
            {"id_tags": [{"token": "X" * 21}]},
            {"id_tags": {"0": {"token": ["Ensure this field has no more than 20 characters."]}}},
        ),
        (
            {"id_tags": [{"token": "A", "type": "NFC"}]},
            {"id_tags": {"0": {"type": ['"NFC" is not a valid choice. Valid choices: RFID, VIRTUAL.']}}},
        ),
        ({"email": "not-an-email"}, {"email": ["Enter a valid email address."]}),
        (
            {"id_tags": "A"},
            {"id_tags": {"non_field_errors": ['Expected a list of items but got type "str".']}},
        ),
    ],
)
def test_bad_input_is_a_400_naming_each_field(api: APIClient, payload: dict, errors: dict) -> None:
    response = api.post("/api/v1/users", payload, format="json")

    assert response.status_code == 400
    assert response.json() == errors


def test_list_filters_and_delete(api: APIClient, organization: Organization) -> None:
    holder = DriverFactory.create(organization=organization)
    IdTagFactory.create(driver=holder, token="FIND-ME")
    DriverFactory.create(organization=organization, active=False)
    session = SessionFactory.create(chargestation__location__organization=organization, driver=holder)

    assert [u["_id"] for u in api.get("/api/v1/users?token=FIND-ME").json()["results"]] == [holder.public_id]
    assert api.get("/api/v1/users?active=false").json()["count"] == 1
    assert api.delete(f"/api/v1/users/{holder.public_id}").status_code == 204
    session.refresh_from_db()
    assert session.driver is None
    assert not IdTag.objects.filter(token="FIND-ME").exists()


def test_a_patch_with_an_id_tag_without_token_is_a_400(api: APIClient) -> None:
    user = api.post("/api/v1/users", {"first_name": "Ada"}, format="json").json()

    response = api.patch(f"/api/v1/users/{user['_id']}", {"id_tags": [{"type": "RFID"}]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"id_tags": ["Each id tag needs a token."]}
