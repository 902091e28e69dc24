"""`make bench`: measure the delivery pipeline end to end and write docs/benchmarks.md.

See docs/benchmarks.md for what each figure means. Takes about four minutes: the pipeline's
figures (a)-(f), then (g), 1, 2 and 4 worker nodes sharing one outbox. `--only pipeline` or
`--only scaling` runs one part.
"""

import argparse
import os
import subprocess
import sys
import time

from bench import stack

TARGET_DELIVERY_RATIO = 0.25
TARGET_SAVE_RATIO = 1.5
TARGET_DEAD_RATIO = 0.8


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument("--only", choices=["pipeline", "scaling"], help="run one part only")
    args = parser.parse_args(argv)

    stack.environment_apply()
    stack.database_recreate()
    import django

    django.setup()
    stack.database_migrate()
    stack.queue_purge()
    receiver = stack.Receiver()
    try:
        if args.only != "scaling":
            pipeline(receiver, workers=args.workers, write=not args.no_write)
        if args.only != "pipeline":
            scale(receiver, write=not args.no_write)
    finally:
        receiver.close()
        stack._stop_all()
    return 0


def scale(receiver: "stack.Receiver", *, write: bool) -> None:
    from bench import report, scaling

    host = report.machine()
    started = time.monotonic()
    runs = scaling.scaling(receiver)
    rows = scaling.rows(runs)
    command = " ".join(stack.procfile_command("worker")[1:])
    notes = [f"Whole run: {time.monotonic() - started:.0f} s."]
    print()
    print(report.table(rows))
    if write:
        section = report.document(
            rows,
            host,
            f"N x `celery {command}` with WEBHOOKS_CONCURRENCY={scaling.SENDERS}, no beat",
            notes,
            title="Latest scaling run",
        )
        report.document_write(section, "scaling")
        print(f"\nwritten to {report.DOC.relative_to(stack.ROOT)}")


def pipeline(receiver: "stack.Receiver", *, workers: int, write: bool) -> None:
    from bench import report, scenarios

    started = time.monotonic()
    pipeline_workers: list[subprocess.Popen[bytes]] = []
    try:
        host = report.machine()
        body, headers = scenarios.sample_body()
        raw = scenarios.raw_ceiling(receiver, body, headers)
        print(f"(a) raw ceiling: {raw:,.0f} req/s", flush=True)
        save_none, save_three, save_filtered = scenarios.save_cost(receiver)
        print(
            f"(d) save(): {save_none:,.0f} µs alone, {save_three:,.0f} µs with 3 endpoints, "
            f"{save_filtered:,.0f} µs with 3 filtered and scoped",
            flush=True,
        )
        stack.queue_purge()  # the saves' tasks: their rows are gone already
        pipeline_workers = [*stack.workers_start(workers), stack.beat_start()]
        scenarios.throughput(receiver, "warmup", events_count=500, healthy=1)
        one = scenarios.throughput(receiver, "one", events_count=5000, healthy=1)
        print(f"(b) 5,000 x 1: {one.per_second:,.0f}/s", flush=True)
        ten = scenarios.throughput(receiver, "ten", events_count=1000, healthy=10)
        print(f"(b) 1,000 x 10: {ten.per_second:,.0f}/s", flush=True)
        p50, p99, worst, rate = scenarios.latency(receiver)
        print(f"(e) latency p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
        dead = scenarios.throughput(receiver, "dead", events_count=1000, healthy=9, dead=1)
        print(f"(f) 9 healthy + 1 dead: {dead.per_second:,.0f}/s", flush=True)
        verified = receiver.stats()
    finally:
        for process in pipeline_workers:
            stack.stop(process)

    worst_ratio = min(one.per_second, ten.per_second) / raw
    rows = [
        report.Row("(a) raw ceiling: keep-alive http.client POST loop", f"{raw:,.0f} req/s"),
        report.Row("(b) delivered/s, 5,000 events x 1 endpoint", f"{one.per_second:,.0f}/s"),
        report.Row("(b) delivered/s, 1,000 events x 10 endpoints", f"{ten.per_second:,.0f}/s"),
        report.Row(
            "(c) b/a (the lower b)",
            f"{worst_ratio:.2f} ({one.per_second / raw:.2f} / {ten.per_second / raw:.2f})",
            f">= {TARGET_DELIVERY_RATIO}",
            worst_ratio >= TARGET_DELIVERY_RATIO,
        ),
        report.Row("(d) save() of a Location, no endpoint", f"{save_none:,.0f} µs"),
        report.Row("(d) save() of a Location, 3 subscribed endpoints", f"{save_three:,.0f} µs"),
        report.Row(
            "(d) ratio",
            f"{save_three / save_none:.2f}",
            f"<= {TARGET_SAVE_RATIO}",
            save_three / save_none <= TARGET_SAVE_RATIO,
        ),
        report.Row(
            "(d) save() of a Location, 3 endpoints with filters and scopes", f"{save_filtered:,.0f} µs"
        ),
        report.Row(
            "(d) ratio, filtered and scoped",
            f"{save_filtered / save_none:.2f}",
            f"<= {TARGET_SAVE_RATIO}",
            save_filtered / save_none <= TARGET_SAVE_RATIO,
        ),
        report.Row(
            f"(e) commit-to-receipt, 100 events/s for 20 s (achieved {rate:.0f}/s)",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        ),
        report.Row("(f) healthy delivered/s, 9 healthy + 1 hanging endpoint", f"{dead.per_second:,.0f}/s"),
        report.Row("(f) healthy delivered/s, all 10 healthy (from b)", f"{ten.per_second:,.0f}/s"),
        report.Row(
            "(f) ratio",
            f"{dead.per_second / ten.per_second:.2f}",
            f">= {TARGET_DEAD_RATIO}",
            dead.per_second / ten.per_second >= TARGET_DEAD_RATIO,
        ),
    ]
    command = " ".join(stack.procfile_command("worker")[1:])
    setup = f"{workers} x `celery {command}`, plus beat"
    notes = [
        f"Duplicates received (at-least-once resends): {one.duplicates + ten.duplicates + dead.duplicates}.",
        f"Signatures checked by the receiver with `standardwebhooks`: {verified['verified']} verified, "
        f"{verified['verify_failed']} failed.",
        f"Slowest commit-to-receipt in (e): {worst:.0f} ms. Whole run: {time.monotonic() - started:.0f} s.",
    ]
    print()
    print(report.table(rows))
    print("\n".join(notes))
    if write:
        report.document_write(report.document(rows, host, setup, notes))
        print(f"\nwritten to {report.DOC.relative_to(stack.ROOT)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
