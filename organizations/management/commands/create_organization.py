from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import IntegrityError

from organizations.models import Organization, Plan
from organizations.services import organization_create

NAME_MAX_LENGTH = Organization._meta.get_field("name").max_length or 200


class Command(BaseCommand):
    help = (
        "Create an organization (with --owner, also a dashboard login that is its admin) and print "
        "its first API key alone on the last line of output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The organization's display name.")
        parser.add_argument("--plan", required=True, help=f"One of: {', '.join(Plan.values)}.")
        parser.add_argument("--email", required=True, help="Where operational alerts are sent.")
        parser.add_argument("--owner", metavar="USERNAME", help="Create this dashboard login as its admin.")
        parser.add_argument("--password", help="The owner's password (required with --owner).")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        plan = options["plan"].strip().lower()
        email = options["email"].strip()
        owner, password = options["owner"], options["password"]

        problems = _problems(name=name, plan=plan, email=email, owner=owner, password=password)
        if problems:
            raise CommandError("Nothing was created:\n  - " + "\n  - ".join(problems))
        try:
            organization, raw_key = organization_create(
                name=name, email=email, plan=plan, owner_username=owner, owner_password=password
            )
        except IntegrityError as exc:
            # Only a race with a concurrent run gets here: the checks above caught the rest.
            raise CommandError(f"Nothing was created: {exc}") from exc

        self.stdout.write(
            f'Created organization "{organization.name}" '
            f"(id {organization.public_id}, plan {organization.plan}, alerts to {organization.email})."
        )
        if owner:
            self.stdout.write(f"Dashboard login: {owner} (admin of {organization.name}).")
        self.stdout.write('API key, shown only this once (send it as "Authorization: Bearer <key>"):')
        self.stdout.write(raw_key)


def _problems(*, name: str, plan: str, email: str, owner: str | None, password: str | None) -> list[str]:
    """Every reason the input is unusable, so that one run reports them all."""
    problems = []
    if not name:
        problems.append("NAME must not be empty.")
    elif len(name) > NAME_MAX_LENGTH:
        problems.append(f"NAME must be at most {NAME_MAX_LENGTH} characters.")
    if plan not in Plan.values:
        problems.append(f"--plan {plan!r} is not a plan; choose one of: {', '.join(Plan.values)}.")
    try:
        validate_email(email)
    except ValidationError:
        problems.append(f"--email {email!r} is not a valid email address.")
    if password and not owner:
        problems.append("--password is only used with --owner.")
    if owner:
        problems.extend(_owner_problems(owner=owner, password=password, email=email))
    return problems


def _owner_problems(*, owner: str, password: str | None, email: str) -> list[str]:
    username_field = User._meta.get_field("username")
    try:
        username_field.run_validators(owner)
    except ValidationError as exc:
        return [f"--owner {owner!r}: {' '.join(exc.messages)}"]
    if User.objects.filter(username=owner).exists():
        return [f"--owner {owner!r}: a user with that username already exists."]
    if not password:
        return ["--owner needs --password."]
    try:
        validate_password(password, user=User(username=owner, email=email))
    except ValidationError as exc:
        return [f"--password: {' '.join(exc.messages)}"]
    return []
