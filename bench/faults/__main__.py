"""`make faults`: break the stack on purpose, count every event, write docs/reliability.md.

Starts a private PostgreSQL cluster and a private Redis (never the machine's own), the web app,
two Celery workers, beat and a verifying receiver, then runs the scenarios (the seven of issue 8,
the frozen worker of issue 13) and prints one row each. Exit status 1 when a row misses its
target. About seven minutes; `--quick` shrinks the loads (about three). `--only 8` (or
`--only worker_frozen`) runs one scenario. Logs of every process: var/faults/.
"""

import argparse
import signal
import sys
import time
from types import FrameType

from bench.faults.stack import ROOT, Stack


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`: every process and directory goes


def _wanted(only: str) -> set[int]:
    """The scenario numbers `--only` names: numbers (1-based) or function names of scenarios.py."""
    from bench.faults.scenarios import SCENARIOS  # imports no Django model at module level

    names = {scenario.__name__: number for number, scenario in enumerate(SCENARIOS, start=1)}
    wanted = set()
    for item in (part.strip() for part in only.split(",")):
        if item.isdigit() and 1 <= int(item) <= len(SCENARIOS):
            wanted.add(int(item))
        elif item in names:
            wanted.add(names[item])
        elif item:
            choices = ", ".join(f"{n} {name}" for name, n in names.items())
            raise ValueError(f"no scenario {item!r}; there are: {choices}")
    return wanted


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced loads, a 12 s broker outage")
    parser.add_argument(
        "--only", default="", help="comma-separated scenario numbers or names, e.g. 2,3 or worker_frozen"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/reliability.md")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    scale = 0.2 if args.quick else 1.0
    try:
        wanted = _wanted(args.only)
    except ValueError as exc:
        parser.error(str(exc))

    started = time.monotonic()
    stack = Stack(ROOT / "var" / "faults")
    try:
        stack.environment_apply()
        stack.servers_start()
        import django

        django.setup()
        from django.core.management import call_command

        from bench.faults import report, scenarios

        call_command("migrate", verbosity=0, interactive=False)
        stack.apps_start()
        print(f"stack up in {time.monotonic() - started:.0f} s; logs in {stack.logs}", flush=True)
        rows = []
        for number, scenario in enumerate(scenarios.SCENARIOS, start=1):
            if wanted and number not in wanted:
                continue
            print(f"running {number}: {(scenario.__doc__ or '').splitlines()[0]}", flush=True)
            crashed = len(stack.supervisor.crashes)
            row = scenario(stack, scale)
            for crash in stack.supervisor.crashes[crashed:]:
                row.crashes += 1
                row.notes.append(f"**{crash.process} died** ({crash.reason[:120]}); restarted")
            row.expect_duplicates = row.expect_duplicates or bool(row.crashes)
            rows.append(row)
            print(
                report.table([row]).splitlines()[-1], *(f"    {n}" for n in row.notes), sep="\n", flush=True
            )
        host = report.machine(stack.postgres.bindir)
    finally:
        stack.close()
    seconds = time.monotonic() - started
    print()
    print(report.table(rows))
    print()
    print(report.notes(rows))
    print(f"\n{seconds:.0f} s on {host}")
    if not args.no_write and not wanted:
        report.doc_write(report.section(rows, host=host, seconds=seconds, quick=args.quick))
        print(f"written to {report.DOC.relative_to(ROOT)}")
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
