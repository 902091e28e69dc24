from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from chargestations.models import Protocol
from edrv_project.demo import API_KEY_NAME, PASSWORD, USERNAME, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo organization, its login and a small network if missing (safe to re-run), "
        "and print the login, a simulator command per demo charger (each with a new authorization key) "
        "and a new API key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        seed = demo_seed()
        if seed.created:
            summary = ", ".join(f"{count} {name}" for name, count in sorted(seed.created.items()))
            self.stdout.write(f"Demo data created: {summary}.")
        else:
            self.stdout.write("Demo data already present: nothing to create.")
        organization = seed.organization
        self.stdout.write(
            f"Organization: {organization.name} (id {organization.public_id}, plan {organization.plan})"
        )
        self.stdout.write(f"Dashboard: {settings.SITE_URL}/  login: {USERNAME} / {PASSWORD}")
        self.stdout.write(
            "Demo chargers, each with a new authorization key (its HTTP Basic password; the old one no "
            "longer connects). Run one against the gateway:"
        )
        for endpoint, key in seed.charger_keys.items():
            protocol = seed.charger_protocols[endpoint]
            speaks = "" if protocol == Protocol.OCPP16 else f" --protocol {protocol}"
            self.stdout.write(
                f"  .venv/bin/python manage.py simulate_charger {endpoint}{speaks} --authorization-key {key}"
            )
        self.stdout.write(
            f'New API key "{API_KEY_NAME}", shown only this once '
            f"(try: curl -H 'Authorization: Bearer <key>' {settings.SITE_URL}/api/v1/organization):"
        )
        self.stdout.write(seed.raw_key)
