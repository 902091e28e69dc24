"""NUL characters (U+0000) are a 400 that names the field, never a 500.

PostgreSQL stores no NUL in text or jsonb; the API refuses them before the database sees them,
on every backend alike.
"""

import pytest
from rest_framework.test import APIClient

from organizations.models import Organization, Plan
from tests.factories import ChargestationFactory, LocationFactory

pytestmark = pytest.mark.django_db


def test_a_reference_with_a_nul_is_not_found(api: APIClient, organization: Organization) -> None:
    body = {"chargestation": "\x00abc", "connector_number": 1, "type": "IEC_62196_T2", "format": "SOCKET",
            "power_type": "AC_3_PHASE", "power": 22}  # fmt: skip

    response = api.post("/api/v1/connectors", body, format="json")

    assert response.status_code == 400
    assert "chargestation" in response.json()


@pytest.mark.parametrize(
    "meta_data",
    [{"note": "a\x00b"}, {"a\x00": "key"}, {"nested": {"list": ["ok", "\x00"]}}],
    ids=["value", "key", "nested"],
)
def test_json_objects_with_a_nul_are_refused(
    api: APIClient, organization: Organization, meta_data: dict
) -> None:
    location = LocationFactory.create(organization=organization)

    response = api.patch(f"/api/v1/locations/{location.public_id}", {"meta_data": meta_data}, format="json")

    assert response.status_code == 400
    assert "meta_data" in response.json()
    location.refresh_from_db()
    assert location.meta_data != meta_data


def test_a_webhook_filter_with_a_nul_is_refused(api: APIClient, organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(plan=Plan.PRO)
    ChargestationFactory.create(location__organization=organization)
    body = {
        "url": "http://127.0.0.1:9/hook",
        "events": ["location.created"],
        "filter": {"data": {"name": "\x00"}},
    }

    response = api.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 400
    assert "filter" in response.json()
