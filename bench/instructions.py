"""(d) in CPU instructions: what one save() costs the saving process, counted by valgrind.

The wall-time ratio of (d) moves by a tenth from one run to the next on a shared two-core machine
(and two kinds that do the same work differ by as much). Instructions do not: each kind runs in its
own process under `valgrind --tool=callgrind`, which counts the instructions the process executes;
the counters are zeroed after a warm-up and dumped after the saves (`callgrind_control`), so the
figure is the saves' own. It counts the saving process only (PostgreSQL's side is not in it), and
the hint and feed announcements that the process's background threads publish at most every few
milliseconds are left out: under valgrind every save would be published on its own.

`python -m bench.instructions` prints both kinds; `make bench` runs it in its `save` part when
valgrind is installed.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import stack

KINDS = ("disconnected", "three")


@dataclass
class Instructions:
    disconnected: float  # per save, webhooks receivers disconnected
    three: float  # per save, 3 subscribed endpoints

    @property
    def ratio(self) -> float:
        return self.three / self.disconnected

    @property
    def summary(self) -> str:
        return (
            f"(d) instructions per save(): {self.disconnected:,.0f} disconnected, "
            f"{self.three:,.0f} with 3 endpoints ({self.ratio:.2f})"
        )


def available() -> bool:
    return bool(shutil.which("valgrind") and shutil.which("callgrind_control"))


def count(saves: int = 100) -> Instructions:
    """Instructions per save of each kind, each in its own process under valgrind, side by side."""
    with tempfile.TemporaryDirectory() as folder:
        runs = {
            kind: subprocess.Popen(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={folder}/{kind}.%p",
                    "--dump-line=no",
                    sys.executable,
                    "-m",
                    "bench.instructions",
                    "--child",
                    kind,
                    str(saves),
                ],
                cwd=stack.ROOT,
                env={**os.environ, **stack.ENV},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for kind in KINDS
        }
        for kind, run in runs.items():
            _, errors = run.communicate(timeout=900)
            if run.returncode:
                raise RuntimeError(f"instructions, {kind}: exit {run.returncode}\n{errors.decode()[-2000:]}")
        per_save = {kind: _counted(Path(folder), kind) / saves for kind in KINDS}
    return Instructions(**per_save)


def _counted(folder: Path, kind: str) -> int:
    """The instructions of the dump taken after the saves (`<kind>.<pid>.1`)."""
    [dump] = folder.glob(f"{kind}.*.1")
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dump}")


def _child(kind: str, saves: int) -> None:
    """Save one location `saves` times (after a warm-up), between a reset and a dump of the counters."""
    import django

    django.setup()
    from contextlib import nullcontext

    from bench.scenarios import organization_new, webhooks_disconnected
    from chargestations.models import Location
    from webhooks.endpoints import services as endpoints
    from webhooks.feed import announcing
    from webhooks.outbox import publishing

    # See the module's docstring: what the background threads would publish is dropped.
    publishing._publisher.flush = publishing._publisher.fresh.clear  # type: ignore[method-assign]
    announcing._announcer.publish = lambda batch: None  # type: ignore[method-assign]
    organization = organization_new(f"instructions-{kind}-{time.time_ns()}")
    for n in range(3):
        endpoints.endpoint_create(
            organization=organization, url=f"http://127.0.0.1:9/d/{n}", events=["location.updated"]
        )
    location = Location.objects.create(organization=organization, name="Saved over and over")
    try:
        with webhooks_disconnected() if kind == "disconnected" else nullcontext():
            for n in range(50):
                location.name = f"Warm-up {n}"
                location.save()
            _callgrind("-z")
            for n in range(saves):
                location.name = f"Saved {n}"
                location.save()
            _callgrind("-d", "saves")
    finally:
        organization.delete()  # its events and endpoints with it: nothing is left for the workers


def _callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _child(argv[1], int(argv[2]))
        return 0
    if not available():
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    stack.environment_apply()
    stack.database_recreate()
    import django

    django.setup()
    stack.database_migrate()
    print(count().summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
