"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright downloads no browser here: it launches /usr/bin/chromium (`.ci/run` installs the
`chromium` package when it is missing). A failing test leaves a screenshot of its page under
tests/artifacts/<test>/. Tests that need a worker and a receiver use the end-to-end fixtures,
imported below (with their hook that puts the worker's log in a failure's report).
"""

import os
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from organizations.models import Membership, Organization, Role
from tests.e2e.conftest import (  # noqa: F401 - fixtures and the report hook, for tests marked e2e
    artifacts_dir,
    celery_broker,
    celery_worker,
    pytest_runtest_makereport,
    receiver,
)
from tests.e2e.processes import ARTIFACTS
from tests.factories import PASSWORD, MembershipFactory

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()

Login = Callable[..., Page]


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_for_screenshots(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # The page fixture's teardown reads whether the test failed, to take a screenshot.
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """A Chromium of the test's own.

    Playwright's sync API runs an event loop in this thread while it is started, and Django then
    refuses ORM calls here as if from async code. So it lives only as long as one test (the
    database is set up before and flushed after), and during that test ORM calls are allowed:
    the test's own calls are plain sync code; the live server answers from its own thread.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While the loop runs, Django keeps this thread's connections apart from its usual ones
        # (asgiref's Local): close them here, or they outlive the test database.
        connections.close_all()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    yield page
    reports = request.node.stash.get(PHASE_REPORTS, {})
    if any(report.failed for report in reports.values()):
        folder = artifacts_folder(request)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "failure.png"), full_page=True)
    context.close()


@pytest.fixture
def login(page: Page, live_server: LiveServer) -> Login:
    """`login(organization, role=...)`: a new member logs in through the login form."""

    def log_in(organization: Organization, role: str = Role.ADMIN) -> Page:
        membership: Membership = MembershipFactory.create(organization=organization, role=role)
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(membership.user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        return page

    return log_in


def artifacts_folder(request: pytest.FixtureRequest) -> Path:
    return ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.nodeid)


@pytest.fixture(autouse=True)
def _no_stale_screenshot(request: pytest.FixtureRequest) -> None:
    (artifacts_folder(request) / "failure.png").unlink(missing_ok=True)
