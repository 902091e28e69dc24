"""An unknown page is the product's 404 under DEBUG too (`make run`), never Django's technical page
listing every URL pattern; the API keeps its JSON 404 (edrv_project.not_found, api_middleware)."""

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db

TECHNICAL = "Using the URLconf"


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request: pytest.FixtureRequest, settings: Settings) -> bool:
    settings.DEBUG = request.param
    return bool(request.param)


@pytest.mark.usefixtures("debug")
def test_an_unknown_page_is_the_products_404(client: Client, admin: Client) -> None:
    for visitor in (client, admin):
        response = visitor.get("/no/such/page/")

        page = response.content.decode()
        assert response.status_code == 404
        assert "<h1>Not found</h1>" in page and TECHNICAL not in page and "dashboard-webhook" not in page
    # A member logged in is still shown as such, with the way back
    page = admin.get("/no/such/page/").content.decode()
    assert "Log out" in page and 'href="/">Back to the overview' in page


@pytest.mark.usefixtures("debug")
def test_a_404_raised_by_a_page_is_the_products_too(admin: Client) -> None:
    response = admin.get("/developers/webhooks/wh_0123456789abcdef01234567/")

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()
    assert "No such webhook endpoint" not in response.content.decode()


@pytest.mark.usefixtures("debug")
def test_the_api_keeps_its_json_404(client: Client) -> None:
    response = client.get("/api/v1/no-such-route/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Not found: no such API route.")


@pytest.mark.usefixtures("debug")
def test_a_missing_slash_is_still_added(admin: Client) -> None:
    response = admin.get("/locations")

    assert response.status_code == 301 and response["Location"] == "/locations/"
