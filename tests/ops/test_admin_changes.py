"""What operators change through the admin: API key revocation, and forms that keep tenants apart."""

import json
from collections.abc import Callable

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from rest_framework.exceptions import AuthenticationFailed

from chargestations.models import Chargestation
from organizations.models import ApiKey, Organization
from organizations.services import api_key_create
from sessions_app.admin import DUPLICATE_TAG_MESSAGE
from sessions_app.models import Driver, IdTag, Session
from tests.factories import (
    ChargestationFactory,
    DriverFactory,
    IdTagFactory,
    LocationFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db


def url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def add_form(client: Client, model: type[Model], **values: object) -> dict[str, str]:
    """The add page's form as a browser would post it untouched, with `values` filled in."""
    page = client.get(url(model, "add"))
    data: dict[str, str] = {}
    for field in page.context["adminform"].form:
        value = field.value()
        if isinstance(value, dict | list):
            data[field.html_name] = json.dumps(value)
        elif value is True:
            data[field.html_name] = "on"
        elif value not in (None, False):
            data[field.html_name] = str(value)
    for inline in page.context["inline_admin_formsets"]:
        for field in inline.formset.management_form:
            data[field.html_name] = str(field.value())
    for name, value in values.items():
        data[name] = "on" if value is True else str(value)
    return data


def test_api_keys_cannot_be_added_and_their_hash_is_never_shown(admin_client: Client) -> None:
    # Given a key
    api_key, _ = api_key_create(organization=OrganizationFactory.create())

    # When the operator opens its page, or tries to add one
    page = admin_client.get(url(ApiKey, "change", api_key.pk))
    add = admin_client.get(url(ApiKey, "add"))

    # Then the page shows it with nothing editable and without its hash, and adding is refused
    assert page.status_code == 200
    assert api_key.prefix in page.content.decode()
    assert api_key.key_hash not in page.content.decode()
    assert not page.context["adminform"].form.fields
    assert add.status_code == 403


def test_revoke_action_revokes_only_the_selected_keys(
    admin_client: Client, key_owner: Callable[[str], Organization]
) -> None:
    # Given three keys
    organization = OrganizationFactory.create()
    keys = [api_key_create(organization=organization) for _ in range(3)]
    (first, first_raw), (second, _), (_, kept_raw) = keys

    # When the operator revokes two of them
    response = admin_client.post(
        url(ApiKey, "changelist"), {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]}
    )

    # Then those two no longer authenticate; the third still does
    assert response.status_code == 302
    revoked = set(ApiKey.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True))
    assert revoked == {first.pk, second.pk}
    with pytest.raises(AuthenticationFailed, match="revoked"):
        key_owner(first_raw)
    assert key_owner(kept_raw) == organization


def test_a_station_cannot_be_put_at_another_organizations_location(admin_client: Client) -> None:
    # Given an organization and a location of another one
    organization, elsewhere = OrganizationFactory.create(), LocationFactory.create()

    # When a station of the first is added at that location
    values = {"organization": organization.pk, "location": elsewhere.pk, "endpoint": "X-1"}
    data = add_form(admin_client, Chargestation, **values)
    response = admin_client.post(url(Chargestation, "add"), data)

    # Then the form says why, and nothing is created
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["location"] == [
        "This location belongs to another organization."
    ]
    assert not Chargestation.objects.filter(endpoint="X-1").exists()

    # And at one of its own locations it is created
    data["location"] = str(LocationFactory.create(organization=organization).pk)
    assert admin_client.post(url(Chargestation, "add"), data).status_code == 302
    assert Chargestation.objects.get(endpoint="X-1").organization == organization


def test_inline_id_tags_take_their_drivers_organization(admin_client: Client) -> None:
    # Given an organization
    organization = OrganizationFactory.create()

    # When a driver is added with two tags inline
    tags = {"id_tags-TOTAL_FORMS": 2, "id_tags-0-token": "RFID-1", "id_tags-0-type": "RFID"}
    tags |= {"id_tags-1-token": "APP-1", "id_tags-1-type": "VIRTUAL", "id_tags-1-active": True}
    data = add_form(admin_client, Driver, organization=organization.pk, first_name="Ada", **tags)
    response = admin_client.post(url(Driver, "add"), data)

    # Then both tags belong to the driver's organization
    assert response.status_code == 302
    driver = Driver.objects.get(first_name="Ada")
    assert set(driver.id_tags.values_list("token", "organization")) == {
        ("RFID-1", organization.pk),
        ("APP-1", organization.pk),
    }


def test_a_token_used_in_the_organization_is_a_form_error(admin_client: Client) -> None:
    # Given a token in use in an organization
    taken = IdTagFactory.create(token="RFID-1")

    # When another driver of that organization is added with the same token
    tags = {"id_tags-TOTAL_FORMS": 1, "id_tags-0-token": "RFID-1", "id_tags-0-type": "RFID"}
    data = add_form(admin_client, Driver, organization=taken.organization_id, first_name="Bo", **tags)
    response = admin_client.post(url(Driver, "add"), data)

    # Then the form says so (no 500), and nothing is created
    assert response.status_code == 200
    assert DUPLICATE_TAG_MESSAGE in response.content.decode()
    assert not Driver.objects.filter(first_name="Bo").exists()


def test_a_tag_added_on_its_own_follows_its_driver(admin_client: Client) -> None:
    # Given a driver
    driver = DriverFactory.create()

    # When a tag is added for them, and then the same token again
    data = add_form(admin_client, IdTag, driver=driver.pk, token="RFID-9")
    first, again = (admin_client.post(url(IdTag, "add"), data) for _ in range(2))

    # Then the tag is in the driver's organization, and the duplicate is a form error
    assert (first.status_code, again.status_code) == (302, 200)
    assert IdTag.objects.get(token="RFID-9").organization == driver.organization
    assert again.context["adminform"].form.errors["token"] == [DUPLICATE_TAG_MESSAGE]


def test_a_session_cannot_link_another_organizations_station(admin_client: Client) -> None:
    # Given an organization and a station of another one
    organization, station = OrganizationFactory.create(), ChargestationFactory.create()

    # When a session of the first is added at that station
    data = add_form(admin_client, Session, organization=organization.pk, chargestation=station.pk)
    response = admin_client.post(url(Session, "add"), data)

    # Then the form says why, and nothing is created
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["chargestation"] == ["This belongs to another organization."]
    assert not Session.objects.exists()
