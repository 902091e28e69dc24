"""The dashboard's event catalog: every type by category; per type its schema and an example."""

import html
import json
import re

import pytest
from django.test import Client
from jsonschema import Draft202012Validator

from organizations.models import Organization, Plan
from webhooks.catalog.types import EVENT_TYPES
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def pre(page: str, css_class: str) -> object:
    [block] = re.findall(rf'<pre class="json {css_class}">(.*?)</pre>', page, flags=re.S)
    return json.loads(html.unescape(block))


def test_the_catalog_lists_every_type_with_a_link_to_its_page(viewer: Client) -> None:
    page = viewer.get("/developers/event-types/").content.decode()

    for name, event_type in EVENT_TYPES.items():
        assert f'href="/developers/event-types/{name}"' in page
        assert str(event_type.category) in page
    assert page.count('badge muted">Coming soon') == sum(
        1 for t in EVENT_TYPES.values() if not t.subscribable
    )


@pytest.mark.parametrize(
    "type_name", ["session.ended", "chargestation.connector_status.updated", "transaction.stopped"]
)
def test_a_type_page_shows_a_schema_and_an_example_that_validates_against_it(
    viewer: Client, organization: Organization, type_name: str
) -> None:
    Organization.objects.filter(pk=organization.pk).update(plan=Plan.FREE)  # reading is for every plan

    response = viewer.get(f"/developers/event-types/{type_name}")

    assert response.status_code == 200
    page = response.content.decode()
    schema, example = pre(page, "schema-json"), pre(page, "example-json")
    assert isinstance(schema, dict) and schema["$schema"].endswith("2020-12/schema")
    Draft202012Validator(schema).validate(example)
    assert not Event.objects.exists()  # the example's rows were rolled back


def test_an_unknown_type_is_404(viewer: Client) -> None:
    assert viewer.get("/developers/event-types/session.exploded").status_code == 404


def test_the_catalog_needs_a_login(client: Client) -> None:
    response = client.get("/developers/event-types/")
    assert response.status_code == 302 and "/login/" in response["Location"]
