"""A chargestation in the operators' admin: never its authorization key nor the key's hash, only whether
it has one and since when; and no heartbeat under ten seconds."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from chargestations.models import Chargestation
from chargestations.services import chargestation_authorization_key_generate
from tests.factories import ChargestationFactory

pytestmark = pytest.mark.django_db


def change_url(station: Chargestation) -> str:
    return reverse("admin:chargestations_chargestation_change", args=[station.pk])


def change_form(client: Client, station: Chargestation, **values: object) -> dict[str, str]:
    """The change page's form as a browser would post it untouched, with `values` filled in."""
    page = client.get(change_url(station))
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
    data.update({name: str(value) for name, value in values.items()})
    return data


def test_the_change_page_shows_whether_a_key_is_set_but_never_the_key_or_its_hash(
    admin_client: Client,
) -> None:
    # Given a station with a key
    station = ChargestationFactory.create()
    key = chargestation_authorization_key_generate(chargestation=station)
    station.refresh_from_db()

    # When an operator opens its page
    page = admin_client.get(change_url(station))

    # Then it says a key is set and when, with neither the key nor its hash, and nothing to edit them
    html = page.content.decode()
    assert page.status_code == 200
    assert key not in html and station.authorization_key_hash not in html
    readonly = page.context["adminform"].readonly_fields
    assert "authorization_key" in readonly and "authorization_key_set_at" in readonly
    assert not {"authorization_key_hash", "authorization_key_set_at"} & set(
        page.context["adminform"].form.fields
    )
    assert 'alt="True"' in html  # the "Authorization key" boolean


def test_saving_the_station_keeps_its_key(admin_client: Client) -> None:
    # Given a station with a key
    station = ChargestationFactory.create()
    chargestation_authorization_key_generate(chargestation=station)
    station.refresh_from_db()
    stored = station.authorization_key_hash

    # When an operator renames it
    response = admin_client.post(change_url(station), change_form(admin_client, station, name="Renamed"))

    # Then the rename is saved and the key still is the one the charger has
    assert response.status_code == 302
    station.refresh_from_db()
    assert (station.name, station.authorization_key_hash) == ("Renamed", stored)


def test_a_heartbeat_under_ten_seconds_is_refused_naming_the_field(admin_client: Client) -> None:
    station = ChargestationFactory.create()

    response = admin_client.post(
        change_url(station), change_form(admin_client, station, heartbeat_interval=5)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "heartbeat_interval": ["Ensure this value is greater than or equal to 10."]
    }
    station.refresh_from_db()
    assert station.heartbeat_interval == 300
