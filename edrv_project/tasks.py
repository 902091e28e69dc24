"""Diagnostics tasks: prove that a worker is alive and sees the same database as the caller.

Not part of the product's flow. The end-to-end test harness publishes `ping` from the test
process and waits for the file it writes; an operator can do the same from a shell. This
module is not in an installed app, so a worker loads it with `-I edrv_project.tasks`.
"""

import json
import os
from pathlib import Path

from celery import shared_task

from organizations.models import Organization


@shared_task
def ping(path: str) -> None:
    """Write the worker's pid and the organizations it can see to `path` (JSON).

    Written to a temporary name and renamed, so a reader polling for the file never sees
    half of it.
    """
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps({"pid": os.getpid(), "organizations": Organization.objects.count()}))
    partial.replace(target)
