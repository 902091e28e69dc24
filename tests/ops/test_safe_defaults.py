"""Safe by default (issue 17, section 4): what production gets without configuring anything.

The test process runs as production does (DEBUG off), with what the Makefile sets for tests: a test-only
SECRET_KEY, and no redirect to HTTPS (the test client speaks plain HTTP).
"""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from pytest_django.fixtures import Settings

from edrv_project import settings as project_settings
from edrv_project.log_format import MASK
from tests.factories import PASSWORD, MembershipFactory

ROOT = Path(__file__).resolve().parents[2]

# --- SECRET_KEY ------------------------------------------------------------------------------------


def test_with_debug_off_the_app_refuses_the_development_secret_key() -> None:
    check = project_settings.secret_key_check

    for missing in (project_settings.DEVELOPMENT_SECRET_KEY, "", "  "):
        with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
            check(debug=False, secret_key=missing)

    # Development may use it; production's own key passes.
    check(debug=True, secret_key=project_settings.DEVELOPMENT_SECRET_KEY)
    check(debug=False, secret_key="a-key-of-this-deployment-only-Zs8pQ1vN4kT7wX0yB3mF6hJ9")


# --- HTTPS -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_debug_off_requests_are_sent_to_https_with_hsts_and_secure_cookies(settings: Settings) -> None:
    # Given production's defaults (the tests' environment switches the redirect off: switched back here)
    assert not django_settings.DEBUG
    settings.SECURE_SSL_REDIRECT = True
    user = MembershipFactory.create().user

    # When a browser comes over HTTP, then over HTTPS and logs in
    plain = Client().get("/login/")
    probes = [Client().get("/healthz"), Client().get("/metrics")]
    client = Client()
    page = client.get("/login/", secure=True)
    logged_in = client.post("/login/", {"username": user.username, "password": PASSWORD}, secure=True)

    # Then HTTP is redirected (but for the probes'), HTTPS answers with HSTS, both cookies are HTTPS-only
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"
    assert [p.status_code for p in probes] == [200, 200]  # fetched per process, over plain HTTP
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert logged_in.status_code == 302
    assert page.cookies["csrftoken"]["secure"] is True
    assert logged_in.cookies["sessionid"]["secure"] is True


# --- login throttling ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("login_url", ["/login/", "/admin/login/"])
def test_after_the_failure_limit_a_login_is_locked_out_with_a_429_page(login_url: str) -> None:
    # Given a member, and someone guessing their password
    user = MembershipFactory.create(user__is_staff=True).user
    client = Client()
    guesses = [
        client.post(login_url, {"username": user.username, "password": f"guess-{n}"})
        for n in range(django_settings.AXES_FAILURE_LIMIT)
    ]

    # When the right password comes after the limit
    right = client.post(login_url, {"username": user.username, "password": PASSWORD})

    # Then the guesses up to the limit got the form back, the last of them and the right one the lockout
    assert [g.status_code for g in guesses[:-1]] == [200] * (django_settings.AXES_FAILURE_LIMIT - 1)
    for locked in (guesses[-1], right):
        assert locked.status_code == 429
        assert "Too many login attempts" in locked.content.decode()
        assert "Try again in 15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session


# --- /metrics behind proxies -----------------------------------------------------------------------

PROMETHEUS = "10.1.2.3"  # in the allowed network below
PROXY = "192.0.2.10"
OUTSIDER = "203.0.113.9"


@pytest.mark.django_db
def test_without_a_trusted_proxy_only_the_peer_counts_and_a_forwarded_address_opens_nothing(
    settings: Settings,
) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    settings.METRICS_TRUSTED_PROXIES = []

    direct = Client().get("/metrics", REMOTE_ADDR=PROMETHEUS)
    claimed = Client().get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR=PROMETHEUS)
    # A server that takes REMOTE_ADDR from the header (uvicorn's proxy headers) may pass on the client's word.
    rewritten = Client().get(
        "/metrics", REMOTE_ADDR=PROMETHEUS, HTTP_X_FORWARDED_FOR=f"{PROMETHEUS}, {OUTSIDER}"
    )

    assert direct.status_code == 200
    assert claimed.status_code == 403
    assert rewritten.status_code == 403


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_address_it_received_the_request_from_counts(settings: Settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    settings.METRICS_TRUSTED_PROXIES = [f"{PROXY}/32"]

    through_proxy = Client().get("/metrics", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=PROMETHEUS)
    # A client outside writes the allowed address first; the proxy appends the one it saw.
    spoofed = Client().get("/metrics", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{PROMETHEUS}, {OUTSIDER}")
    # The same header from anyone but the proxy is not believed.
    not_from_proxy = Client().get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR=PROMETHEUS)

    assert through_proxy.status_code == 200
    assert spoofed.status_code == 403
    assert not_from_proxy.status_code == 403


# --- logs ------------------------------------------------------------------------------------------


def _formatted(formatter_name: str, **extra: object) -> str:
    """One log line through the formatter the settings configure, as the console handler writes it."""
    config: dict[str, Any] = django_settings.LOGGING
    formatter = logging.config.DictConfigurator(config).configure_formatter(
        config["formatters"][formatter_name]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("tests.safe_defaults")
    logger.addHandler(handler)
    try:
        logger.warning("webhooks.delivery.failed", extra=extra)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_log_lines_extras_reach_the_json_output_and_secrets_do_not() -> None:
    line = _formatted("json", delivery_id=42, endpoint_id="wh_1", status_code=500, secret="whsec_abc")

    assert line.count("\n") == 1
    record = json.loads(line)
    assert record["message"] == "webhooks.delivery.failed"
    assert record["level"] == "WARNING"
    assert record["logger"] == "tests.safe_defaults"
    assert (record["delivery_id"], record["endpoint_id"], record["status_code"]) == (42, "wh_1", 500)
    assert record["secret"] == MASK
    assert "whsec_abc" not in line


def test_under_make_run_the_extras_are_appended_to_the_text() -> None:
    line = _formatted("plain", delivery_id=42, endpoint_id="wh_1", api_key="edrv_abc")

    assert "WARNING tests.safe_defaults webhooks.delivery.failed delivery_id=42 endpoint_id='wh_1'" in line
    assert f"api_key='{MASK}'" in line
    assert "edrv_abc" not in line


# --- chargers --------------------------------------------------------------------------------------


def _setting_loaded(name: str, env: dict[str, str]) -> str:
    """repr() of a setting as a fresh process loads the settings with `env` as its whole environment."""
    result = subprocess.run(
        [sys.executable, "-c", f"from edrv_project import settings; print(repr(settings.{name}))"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("debug", [None, "true"], ids=["production", "development"])
def test_stations_without_an_authorization_key_are_refused_unless_the_environment_allows_them(
    debug: str | None,
) -> None:
    dotenv = ROOT / ".env"  # the settings read it too
    if dotenv.exists() and "OCPP_ALLOW_UNSECURED" in dotenv.read_text(errors="replace"):
        pytest.skip("this checkout's .env sets OCPP_ALLOW_UNSECURED: the settings read it")
    # Given an environment with only what the settings need (the Makefile's test-only SECRET_KEY and
    # ENCRYPTION_KEYS), with DEBUG off as in production or on as in development
    env = {name: os.environ[name] for name in ("PATH", "SECRET_KEY", "ENCRYPTION_KEYS")}
    if debug is not None:
        env["DEBUG"] = debug

    # When the settings are loaded without OCPP_ALLOW_UNSECURED, then with it set
    default = _setting_loaded("OCPP_ALLOW_UNSECURED", env)
    allowed = _setting_loaded("OCPP_ALLOW_UNSECURED", env | {"OCPP_ALLOW_UNSECURED": "true"})

    # Then it is off unless the environment turns it on
    assert (default, allowed) == ("False", "True")
