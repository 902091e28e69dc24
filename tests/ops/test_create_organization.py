from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from organizations.models import ApiKey, Membership, Organization, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_organization", *args, stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


def test_prints_a_working_api_key_alone_on_the_last_line(key_owner: Callable[[str], Organization]) -> None:
    # Given nothing but valid arguments
    # When the command runs
    lines = run("Acme Charging", "--plan", "pro", "--email", "ops@acme.example")

    # Then the organization exists as asked, and the last line is its key, alone
    organization = Organization.objects.get(name="Acme Charging")
    assert (organization.plan, organization.email) == ("pro", "ops@acme.example")
    assert key_owner(lines[-1]) == organization
    assert lines[-1].startswith("edrv_") and " " not in lines[-1]
    assert any(organization.public_id in line for line in lines[:-1])
    assert not User.objects.exists()


def test_owner_is_an_admin_member_who_can_log_in(key_owner: Callable[[str], Organization]) -> None:
    # Given an owner and a password
    # When the command runs
    lines = run(
        "Volt Co",
        "--plan",
        "Starter",
        "--email",
        "ops@volt.example",
        "--owner",
        "alice",
        "--password",
        "pw-alice-123",
    )

    # Then alice is the organization's admin and can log in with that password
    organization = key_owner(lines[-1])
    membership = Membership.objects.select_related("user").get(organization=organization)
    assert (membership.user.username, membership.role) == ("alice", Role.ADMIN)
    assert organization.plan == "starter"
    assert Client().login(username="alice", password="pw-alice-123")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--plan", "gold", "--email", "ops@x.example"],
            "'gold' is not a plan; choose one of: free, starter",
        ),
        (["--plan", "pro", "--email", "not-an-email"], "'not-an-email' is not a valid email address"),
        (
            ["--plan", "pro", "--email", "ops@x.example", "--owner", "taken", "--password", "pw-123456"],
            "already",
        ),
        (["--plan", "pro", "--email", "ops@x.example", "--owner", "bob"], "--owner needs --password"),
        (["--plan", "pro", "--email", "ops@x.example", "--owner", "bob", "--password", "short"], "too short"),
        (["--plan", "pro", "--email", "ops@x.example", "--password", "pw-123456"], "only used with --owner"),
    ],
    ids=["plan", "email", "duplicate-username", "owner-without-password", "weak-password", "password-alone"],
)
def test_bad_input_is_a_command_error_and_creates_nothing(args: list[str], message: str) -> None:
    # Given a username already in use
    UserFactory.create(username="taken")

    # When the command runs with one bad argument
    with pytest.raises(CommandError) as error:
        run("Acme", *args)

    # Then it says what is wrong, and nothing was created
    assert message in str(error.value)
    assert str(error.value).startswith("Nothing was created")
    assert not Organization.objects.exists()
    assert not ApiKey.objects.exists()
    assert list(User.objects.values_list("username", flat=True)) == ["taken"]


def test_every_problem_is_reported_at_once() -> None:
    # Given several bad arguments
    # When the command runs
    with pytest.raises(CommandError) as error:
        run(" ", "--plan", "gold", "--email", "nope")

    # Then each is named
    assert "NAME must not be empty" in str(error.value)
    assert "--plan" in str(error.value)
    assert "--email" in str(error.value)
