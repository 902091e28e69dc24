"""The endpoint page's "Verify signatures" samples: the endpoint's id filled in, its secret never, and
the code as shown verifies a real delivery signed by webhooks.signing (and refuses an altered one).

The Python samples run here; the plain Node.js ones run under Node when it is installed. The Node.js
`standardwebhooks` sample needs the npm package, which is not installed: it is only shown. (A v1a,
ed25519, endpoint shows other samples: templates/webhooks/_verify_v1a.html.)
"""

import html
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from organizations.models import Organization
from tests.factories import EndpointFactory
from webhooks import signing
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

PLACEHOLDER = '"whsec_..."'
BODY = json.dumps(
    {"_id": "65f1c0a1b2c3d4e5f6a7b8ff", "data": {"name": "Café Plaza"}, "type": "location.created"}
)
SECRETS = pytest.mark.parametrize(
    "secret", [signing.secret_generate(), "my-own-plain-secret-0123"], ids=["whsec", "plain"]
)
NODE = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def samples(client: Client, endpoint: Endpoint) -> dict[str, str]:
    page = client.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()
    found = re.findall(r'<pre class="code-sample" id="([^"]+)">(.*?)</pre>', page, re.DOTALL)
    return {name: html.unescape(code) for name, code in found}


def signed(secrets: list[str], body: str = BODY) -> tuple[bytes, dict[str, str]]:
    """A delivery's body and headers, exactly as the sender makes them."""
    raw = body.encode()
    headers = signing.signature_headers(
        msg_id="65f1c0a1b2c3d4e5f6a7b8ff",
        timestamp=int(time.time()),
        body=raw,
        secrets=secrets,
    )
    return raw, headers


def pasted(code: str, secret: str) -> str:
    """The sample with `secret` pasted where it says to."""
    assert code.count(PLACEHOLDER) == 1
    return code.replace(PLACEHOLDER, json.dumps(secret))


def python_function(code: str, name: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    function: Callable[..., Any] = namespace[name]
    return function


def node_answers(code: str, body: bytes, headers: dict[str, str]) -> list[bool]:
    """What the sample's `signatureValid` says, in Node, of the delivery and of it with its body altered."""
    program = code + (
        "\nconst input = JSON.parse(process.env.DELIVERY);"
        "\nconst body = Buffer.from(input.body, 'utf8');"
        "\nconst altered = Buffer.from(input.body.replace('Plaza', 'Place'), 'utf8');"
        "\nconst answers = [signatureValid(body, input.headers), signatureValid(altered, input.headers)];"
        "\nconsole.log(JSON.stringify(answers));"
    )
    result = subprocess.run(
        [str(shutil.which("node")), "--input-type=module", "-e", program],
        env={"DELIVERY": json.dumps({"body": body.decode(), "headers": headers})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers: list[bool] = json.loads(result.stdout)
    return answers


@pytest.fixture
def endpoint(organization: Organization) -> Endpoint:
    return EndpointFactory.create(organization=organization)


def test_the_samples_name_the_endpoint_and_never_show_its_secret(
    admin: Client, viewer: Client, endpoint: Endpoint
) -> None:
    for client in (admin, viewer):
        page = client.get(f"/developers/webhooks/{endpoint.public_id}/").content.decode()

        assert "Verify signatures" in page
        assert endpoint.secret not in page and endpoint.secret.removeprefix("whsec_") not in page
        shown = samples(client, endpoint)
        assert set(shown) == {"verify-python", "verify-node", "verify-python-hmac", "verify-node-hmac"}
        for code in shown.values():
            assert f"the signing secret of {endpoint.public_id}" in code and PLACEHOLDER in code


@SECRETS
def test_the_python_plain_hmac_sample_verifies_a_real_delivery(
    admin: Client, endpoint: Endpoint, secret: str
) -> None:
    code = pasted(samples(admin, endpoint)["verify-python-hmac"], secret)
    signature_valid = python_function(code, "signature_valid")
    body, headers = signed([secret])

    assert signature_valid(body, headers) is True
    # During a rotation: the new secret's signature first, the old one's second
    assert signature_valid(*signed([signing.secret_generate(), secret])) is True
    # An altered body, another secret, an old timestamp, a mangled signature: refused
    assert signature_valid(body.replace(b"Plaza", b"Place"), headers) is False
    assert signature_valid(*signed([signing.secret_generate()])) is False
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
    assert signature_valid(body, stale) is False
    assert signature_valid(body, {**headers, "webhook-signature": "v1,ünïcode"}) is False


@SECRETS
def test_the_python_standardwebhooks_sample_verifies_a_real_delivery(
    admin: Client, endpoint: Endpoint, secret: str
) -> None:
    receive = python_function(pasted(samples(admin, endpoint)["verify-python"], secret), "receive")
    body, headers = signed([secret])

    assert receive(body, headers) == json.loads(BODY)
    assert receive(body.replace(b"Plaza", b"Place"), headers) is None


@NODE
@SECRETS
def test_the_node_plain_hmac_sample_verifies_a_real_delivery(
    admin: Client, endpoint: Endpoint, secret: str
) -> None:
    code = pasted(samples(admin, endpoint)["verify-node-hmac"], secret)
    body, headers = signed([secret])

    assert node_answers(code, body, headers) == [True, False]
