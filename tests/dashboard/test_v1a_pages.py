"""Developers > Webhooks under v1a (ed25519): the scheme chosen on the add and edit form, the public key
(with a copy button) instead of a secret to reveal, key rotation, a delivery page that checks v1a
signatures, and the page's "Verify signatures" samples, run against a real delivery."""

import html
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from organizations.models import Organization
from tests.e2e.receiver import Receiver, RecordedRequest
from tests.factories import EndpointFactory, LocationFactory
from tests.pipeline import deliver_waiting
from webhooks import signing
from webhooks.dashboard.views import V1A_NOTHING_TO_REVEAL
from webhooks.endpoints.services import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.endpoints.validation import SIGNATURE_SCHEME_INVALID
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

NEW = "/developers/webhooks/new"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def page_of(endpoint: Endpoint, action: str = "") -> str:
    return f"/developers/webhooks/{endpoint.public_id}/{action}"


def text(response: Any) -> str:
    """The page's text without tags and with single spaces: what a reader sees."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(response.content.decode())))


def v1a(organization: Organization, url: str = "http://127.0.0.1:9/v1a") -> Endpoint:
    return endpoint_create(
        organization=organization, url=url, events=["location.created"], signature_scheme="v1a"
    )


def samples(client: Client, endpoint: Endpoint) -> dict[str, str]:
    page = client.get(page_of(endpoint)).content.decode()
    found = re.findall(r'<pre class="code-sample" id="([^"]+)">(.*?)</pre>', page, re.DOTALL)
    return {name: html.unescape(code) for name, code in found}


def delivered(receiver: Receiver, endpoint: Endpoint, path: str) -> RecordedRequest:
    """A location created and its event delivered by the pipeline (in this process) to `path`."""
    LocationFactory.create(organization=endpoint.organization, name="Café Plaza")
    deliver_waiting()
    return receiver.wait_for(1, path=path)[-1]


def test_the_add_form_offers_both_schemes_v1_first(admin: Client) -> None:
    page = admin.get(NEW).content.decode()

    assert re.search(r'<input type="radio" name="signature_scheme" value="v1"[^>]*checked', page)
    assert re.search(r'<input type="radio" name="signature_scheme" value="v1a"', page)
    assert "HMAC-SHA256 (v1)" in page and "Ed25519 (v1a)" in page


def test_adding_a_v1a_endpoint_shows_its_public_key_to_copy(
    admin: Client, organization: Organization
) -> None:
    # When an endpoint is added with the v1a scheme
    response = admin.post(
        NEW,
        {"url": "http://127.0.0.1:9/hooks", "events": ["session.started"], "signature_scheme": "v1a"},
        follow=True,
    )

    # Then it signs with a generated key pair, and its page shows the public key with a copy button
    endpoint = Endpoint.objects.get(organization=organization)
    assert endpoint.signature_scheme == "v1a" and endpoint.public_key is not None
    page = response.content.decode()
    assert "Endpoint added. Copy its public key below to verify deliveries." in text(response)
    assert f'<code id="public-key" class="secret">{endpoint.public_key}</code>' in page
    assert 'data-copy="public-key"' in page
    assert "Signatures Ed25519 (v1a)" in text(response)
    # And neither the private key nor a "reveal" of a secret
    assert endpoint.secret.removeprefix("whsk_") not in page
    assert "Click to reveal" not in page and "Signing secret" not in page


def test_a_viewer_sees_the_public_key_without_the_rotate_form(
    viewer: Client, organization: Organization
) -> None:
    endpoint = v1a(organization)

    page = viewer.get(page_of(endpoint)).content.decode()

    assert str(endpoint.public_key) in page and "Rotate key" not in page


def test_the_secret_route_of_a_v1a_endpoint_is_a_409_and_records_nothing(
    admin: Client, organization: Organization
) -> None:
    endpoint = v1a(organization)

    for headers in ({"X-Requested-With": "fetch"}, {}):
        response = admin.get(page_of(endpoint, "secret"), headers=headers)

        assert (response.status_code, response.content.decode()) == (409, V1A_NOTHING_TO_REVEAL)
    assert not endpoint.organization.audit_entries.filter(action="webhook.secret_revealed").exists()


def test_switching_to_v1a_on_the_edit_form(admin: Client, organization: Organization) -> None:
    # Given a v1 endpoint, whose form shows its scheme
    endpoint = EndpointFactory.create(organization=organization, events=["rate.created"])
    old_secret = endpoint.secret
    form = admin.get(page_of(endpoint, "edit")).content.decode()
    assert re.search(r'value="v1"[^>]*checked', form)

    # When it is saved with v1a
    data = {"url": endpoint.url, "events": ["rate.created"], "signature_scheme": "v1a"}
    response = admin.post(page_of(endpoint, "edit"), data, follow=True)

    # Then it says so: a new key pair, the only one that signs
    endpoint.refresh_from_db()
    assert endpoint.signature_scheme == "v1a" and endpoint.live_secrets() == [endpoint.secret]
    assert endpoint.previous_secret == old_secret
    assert "It now signs with Ed25519 (v1a) and a new key, the only one that signs" in text(response)
    assert str(endpoint.public_key) in response.content.decode()
    # And a form posted without the field keeps the scheme
    admin.post(page_of(endpoint, "edit"), {"url": endpoint.url, "events": ["rate.created"]})
    endpoint.refresh_from_db()
    assert endpoint.signature_scheme == "v1a"


def test_an_unknown_scheme_is_a_form_error(admin: Client) -> None:
    response = admin.post(
        NEW, {"url": "http://127.0.0.1:9/hooks", "events": ["session.started"], "signature_scheme": "v2"}
    )

    assert response.status_code == 400
    assert SIGNATURE_SCHEME_INVALID in text(response)
    assert not Endpoint.objects.exists()


def test_rotating_the_key_pair(admin: Client, organization: Organization) -> None:
    endpoint = v1a(organization)
    old = endpoint.public_key

    response = admin.post(page_of(endpoint, "rotate-secret"), follow=True)

    endpoint.refresh_from_db()
    assert endpoint.public_key != old
    assert [signing.public_key(key) for key in endpoint.live_secrets()] == [endpoint.public_key, old]
    assert "Key rotated. The previous one keeps signing beside it until" in text(response)
    assert "The previous key also signs, beside this one, until" in text(response)


def test_the_delivery_page_checks_v1a_signatures_before_and_after_a_switch(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a delivery signed under v1, then the endpoint switched to v1a and a delivery signed so
    endpoint = endpoint_create(
        organization=organization, url=receiver.url("/page"), events=["location.created"]
    )
    delivered(receiver, endpoint, "/page")
    endpoint_update(endpoint=endpoint, signature_scheme="v1a")
    delivered(receiver, endpoint, "/page")
    first, second = Delivery.objects.filter(endpoint=endpoint).order_by("pk")

    # When their pages are opened, then each signature verifies its body
    for delivery in (first, second):
        page = admin.get(page_of(endpoint, f"deliveries/{delivery.pk}/"))
        assert "Its signature verifies the body above." in text(page), delivery.pk
    assert "v1a," in admin.get(page_of(endpoint, f"deliveries/{second.pk}/")).content.decode()
    # And after a rotation the v1a attempt still checks, against the previous key
    endpoint_rotate_secret(endpoint=endpoint)
    page = admin.get(page_of(endpoint, f"deliveries/{second.pk}/"))
    assert "Its signature verifies the body above." in text(page)


def test_the_samples_show_the_public_key_and_not_the_v1_ones(
    admin: Client, organization: Organization
) -> None:
    endpoint = v1a(organization)

    shown = samples(admin, endpoint)

    assert set(shown) == {"verify-python-v1a", "verify-node-v1a"}
    for code in shown.values():
        assert f'"{endpoint.public_key}"' in code and f"the public key of {endpoint.public_id}" in code


def python_sample(admin: Client, endpoint: Endpoint) -> Callable[..., bool]:
    namespace: dict[str, Any] = {}
    exec(samples(admin, endpoint)["verify-python-v1a"], namespace)
    function: Callable[..., bool] = namespace["signature_valid"]
    return function


def test_the_python_sample_verifies_a_real_delivery(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    # Given a delivery the pipeline signed and sent to a v1a endpoint, as the receiver got it
    endpoint = v1a(organization, receiver.url("/sample"))
    request = delivered(receiver, endpoint, "/sample")
    # When the page's Python sample checks it, then it verifies, and an altered one does not
    signature_valid = python_sample(admin, endpoint)
    assert signature_valid(request.body, request.headers) is True
    assert signature_valid(request.body.replace(b"Plaza", b"Place"), request.headers) is False
    stale = {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 600)}
    assert signature_valid(request.body, stale) is False
    garbage = {**request.headers, "webhook-signature": "v1,abc v1a,ünïcode v1a,"}
    assert signature_valid(request.body, garbage) is False
    # And during a rotation (two signatures) the sample's old key still verifies
    endpoint_rotate_secret(endpoint=endpoint)
    rotated = delivered(receiver, endpoint, "/sample")
    assert len(rotated.headers["webhook-signature"].split()) == 2
    assert signature_valid(rotated.body, rotated.headers) is True


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_sample_verifies_a_real_delivery(
    admin: Client, organization: Organization, receiver: Receiver
) -> None:
    endpoint = v1a(organization, receiver.url("/node"))
    request = delivered(receiver, endpoint, "/node")
    program = samples(admin, endpoint)["verify-node-v1a"] + (
        "\nconst input = JSON.parse(process.env.DELIVERY);"
        "\nconst body = Buffer.from(input.body, 'utf8');"
        "\nconsole.log(JSON.stringify([signatureValid(body, input.headers),"
        " signatureValid(Buffer.from(input.body.replace('Plaza', 'Place'), 'utf8'), input.headers)]));"
    )

    result = subprocess.run(
        [str(shutil.which("node")), "--input-type=module", "-e", program],
        env={"DELIVERY": json.dumps({"body": request.body.decode(), "headers": request.headers})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, False]
