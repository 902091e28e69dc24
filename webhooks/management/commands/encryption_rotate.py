from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from edrv_project.encryption import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the newest (first) of ENCRYPTION_KEYS, so that the older "
        "keys can then be removed. Every process must already run with the new key list. Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows locked and rewritten at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        done = secrets_reencrypt(batch_size=options["batch_size"])
        for label, rows in done.items():
            self.stdout.write(f"{label}: {rows} rows re-encrypted.")
        self.stdout.write(f"Done: {sum(done.values())} rows now encrypted under the newest key.")
