"""`make bench`: measure the delivery pipeline end to end and write docs/benchmarks.md.

See docs/benchmarks.md for what each figure means. Takes about five minutes: the save() cost (d),
the pipeline's figures (a)-(f), the per-change workload (h)-(i), an idle node (j), then (g) 1, 2
and 4 worker nodes sharing one outbox, then fairness (k), then the event feed's long polls (l).
`--only PART` (repeatable, or comma-separated) runs some parts only, for quick iteration;
docs/benchmarks.md is rewritten only by a run of every part of its table (scaling and the feed have
their own sections).
"""

import argparse
import os
import sys
import time

from bench import report, stack

PARTS = ("save", "pipeline", "perchange", "idle", "scaling", "fairness", "feed")
RESULTS = frozenset(PARTS) - {"scaling", "feed"}  # the parts whose rows make up the `results` table

TARGET_DELIVERY_RATIO = 0.5  # (c) b/a, at least
TARGET_SAVE_RATIO = 1.5  # (d) connected / disconnected save(), at most
AIM_SAVE_RATIO = 1.3
TARGET_LATENCY_P99_MS = 100.0  # (e) at most
TARGET_DEAD_RATIO = 0.9  # (f) at least
TARGET_PER_CHANGE_RATIO = 0.7  # (h) delivered/s against saves/s without webhooks, at least
TARGET_CPU_PER_EVENT_MS = 2.0  # (i) at most
TARGET_IDLE_SHARE = 0.01  # (j) "next to nothing": at most 1 % of one core
TARGET_FAIRNESS_SECONDS = 5.0  # (k) "a few seconds", at most


def _parts(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in PARTS:
            raise argparse.ArgumentTypeError(f"{name!r}: choose from {', '.join(PARTS)}")
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    parser.add_argument(
        "--only",
        type=_parts,
        action="extend",
        metavar="PART",
        help=f"run these parts only ({', '.join(PARTS)}); repeat or separate with commas",
    )
    parser.add_argument("--saves", type=int, default=2000, help="(d) saves of each kind (default 2000)")
    parser.add_argument(
        "--perchange", type=int, default=2000, help="(h) Location creates in the loop (default 2000)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=60, help="(j) seconds the idle node is watched (default 60)"
    )
    parser.add_argument(
        "--fairness-backlog", type=int, default=100_000, help="(k) A's backlog in events (default 100000)"
    )
    parser.add_argument(
        "--feed-steps",
        type=lambda value: tuple(int(n) for n in value.split(",")),
        default=None,
        help="(l) numbers of waiting clients to try, comma-separated (default 100,1000,5000,10000,...)",
    )
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)

    stack.environment_apply()
    stack.database_recreate()
    import django

    django.setup()
    stack.database_migrate()
    stack.queue_purge()
    started = time.monotonic()
    host = report.machine()
    receiver = stack.Receiver()
    rows: list[report.Row] = []
    notes: list[str] = []
    try:
        if "save" in parts:
            rows += save(receiver, saves=args.saves, notes=notes)
        if "pipeline" in parts:
            rows += pipeline(receiver, workers=args.workers, notes=notes)
        if parts & {"perchange", "idle"}:
            rows += per_change(
                receiver,
                workers=args.workers,
                saves=args.perchange if "perchange" in parts else 0,
                idle_seconds=args.idle_seconds if "idle" in parts else 0,
                notes=notes,
            )
        if "scaling" in parts:
            scale(receiver, write=not args.no_write)
        if "fairness" in parts:
            rows += fairness(receiver, workers=args.workers, backlog=args.fairness_backlog, notes=notes)
        if "feed" in parts:
            feed(write=not args.no_write, steps=args.feed_steps)
        verified = receiver.stats()
    finally:
        receiver.close()
        stack._stop_all()
    if not parts & RESULTS:
        return 0

    rows.sort(key=lambda row: row.figure[:3])  # (a) ... (k); a part's rows keep their order
    notes.append(
        f"Signatures checked by the receiver with `standardwebhooks`: {verified['verified']} verified, "
        f"{verified['verify_failed']} failed."
    )
    notes.append(f"Whole run: {time.monotonic() - started:.0f} s.")
    print()
    print(report.table(rows))
    print("\n".join(f"- {note}" for note in notes))
    if args.no_write:
        return 0
    if parts >= RESULTS:
        report.document_write(report.document(rows, host, _setup(args.workers), notes))
        print(f"\nwritten to {report.DOC.relative_to(stack.ROOT)}")
    else:
        print(f"\n{report.DOC.relative_to(stack.ROOT)} left as it is: only a run of every part rewrites it")
    return 0


def _setup(workers: int) -> str:
    worker = " ".join(stack.procfile_command("worker")[1:])
    beat = " ".join(stack.procfile_command("beat")[1:])
    return f"{workers} x `celery {worker}`, plus `celery {beat}` (its schedule file in var/bench/)"


def save(receiver: "stack.Receiver", *, saves: int, notes: list[str]) -> list[report.Row]:
    """(d), before any worker runs: sending does not compete with saving."""
    from bench import scenarios

    cost = scenarios.save_cost(receiver, saves=saves)
    stack.queue_purge()  # the saves' tasks: their rows are gone already
    three, filtered = cost.three / cost.disconnected, cost.filtered / cost.disconnected
    print(
        f"(d) save(): {cost.disconnected:,.0f} µs disconnected, {cost.three:,.0f} µs with 3 endpoints "
        f"({three:.2f}), {cost.filtered:,.0f} µs with 3 filtered and scoped ({filtered:.2f})",
        flush=True,
    )
    notes.append(
        f"(d) The filtered and scoped saves wrote their {cost.filtered_events:,} events and nothing else; "
        f"the fan-out, outside the clock, wrote {cost.filtered_deliveries:,} deliveries for them: the "
        "filters and scopes admitted every one."
    )
    target = f"<= {TARGET_SAVE_RATIO} (aim {AIM_SAVE_RATIO})"
    return [
        report.Row(
            f"(d) save() of a Location, webhooks receivers disconnected ({saves:,} saves)",
            f"{cost.disconnected:,.0f} µs",
        ),
        report.Row("(d) save() of a Location, 3 subscribed endpoints", f"{cost.three:,.0f} µs"),
        report.Row("(d) ratio", f"{three:.2f}", target, three <= TARGET_SAVE_RATIO),
        report.Row(
            "(d) save() of a Location, 3 endpoints with filters and scopes", f"{cost.filtered:,.0f} µs"
        ),
        report.Row(
            "(d) ratio, filtered and scoped", f"{filtered:.2f}", target, filtered <= TARGET_SAVE_RATIO
        ),
        *_save_instructions(notes),
    ]


def _save_instructions(notes: list[str]) -> list[report.Row]:
    """(d) in instructions of the saving process (bench/instructions.py), when valgrind is here."""
    from bench import instructions

    if not instructions.available():
        notes.append("(d) Instructions per save() not counted: valgrind is not installed.")
        return []
    counted = instructions.count()
    print(counted.summary, flush=True)
    return [
        report.Row(
            "(d) instructions per save() in the saving process (valgrind), disconnected / 3 endpoints",
            f"{counted.disconnected / 1e6:.2f} M / {counted.three / 1e6:.2f} M",
        ),
        report.Row(
            "(d) ratio of instructions (the process's CPU alone; same work, no noise)", f"{counted.ratio:.2f}"
        ),
    ]


def pipeline(receiver: "stack.Receiver", *, workers: int, notes: list[str]) -> list[report.Row]:
    """(a)-(c), (e), (f): a backlog's throughput, the latency of a steady stream, a dead endpoint."""
    from bench import scenarios

    body, headers = scenarios.sample_body()
    raw = scenarios.raw_ceiling(receiver, body, headers)
    print(f"(a) raw ceiling: {raw:,.0f} req/s", flush=True)
    stack.queue_purge()
    node = stack.Node(workers)
    try:
        scenarios.throughput(receiver, "warmup", events_count=500, healthy=1)
        one = scenarios.throughput_median(receiver, "one", events_count=5000, healthy=1)
        print(f"(b) 5,000 x 1: {one.per_second:,.0f}/s", flush=True)
        ten = scenarios.throughput_median(receiver, "ten", events_count=1000, healthy=10)
        print(f"(b) 1,000 x 10: {ten.per_second:,.0f}/s", flush=True)
        p50, p99, worst, rate = scenarios.latency(receiver)
        print(f"(e) latency p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)
        dead = scenarios.throughput_median(receiver, "dead", events_count=1000, healthy=9, dead=1)
        print(f"(f) 9 healthy + 1 dead: {dead.per_second:,.0f}/s", flush=True)
    finally:
        node.stop()

    worst_ratio = min(one.per_second, ten.per_second) / raw
    duplicates = one.duplicates + ten.duplicates + dead.duplicates
    notes.append(f"(b)(f) Duplicates received (at-least-once resends): {duplicates}.")
    notes.append(f"(e) Slowest commit-to-receipt: {worst:.0f} ms.")
    return [
        report.Row("(a) raw ceiling: keep-alive http.client POST loop", f"{raw:,.0f} req/s"),
        report.Row("(b) delivered/s, 5,000 events x 1 endpoint", f"{one.per_second:,.0f}/s"),
        report.Row("(b) delivered/s, 1,000 events x 10 endpoints", f"{ten.per_second:,.0f}/s"),
        report.Row(
            "(c) b/a (the lower b)",
            f"{worst_ratio:.2f} ({one.per_second / raw:.2f} / {ten.per_second / raw:.2f})",
            f">= {TARGET_DELIVERY_RATIO}",
            worst_ratio >= TARGET_DELIVERY_RATIO,
        ),
        report.Row(
            f"(e) commit-to-receipt, 100 events/s for 20 s (achieved {rate:.0f}/s)",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
            f"p99 <= {TARGET_LATENCY_P99_MS:.0f} ms",
            p99 <= TARGET_LATENCY_P99_MS,
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


def per_change(
    receiver: "stack.Receiver", *, workers: int, saves: int, idle_seconds: float, notes: list[str]
) -> list[report.Row]:
    """(h)-(i) the per-change loop (`saves` > 0) and (j) an idle node (`idle_seconds` > 0), on one node.

    The loop's baseline (no webhooks, no workers) runs before the node starts and again once it has
    stopped: their mean is the baseline, so that a change in the machine's load between the two
    hits both sides alike. In between, the node idles, then the loop runs with webhooks.
    """
    from bench import scenarios

    rows: list[report.Row] = []
    if saves:
        organization = scenarios.per_change_setup(receiver)
        before = scenarios.per_change_baseline(organization, saves)
        print(f"(h) {saves:,} creates without webhooks, no workers: {before:,.0f} saves/s", flush=True)
    stack.queue_purge()
    node = stack.Node(workers)
    try:
        if idle_seconds:
            cpu = scenarios.idle(node, idle_seconds)
            print(f"(j) idle node: {cpu:.2f} CPU s over {idle_seconds:.0f} s", flush=True)
            limit = TARGET_IDLE_SHARE * idle_seconds
            rows.append(
                report.Row(
                    f"(j) idle node ({workers} worker processes + beat): CPU over {idle_seconds:.0f} s",
                    f"{cpu:.2f} s ({cpu / idle_seconds:.1%} of a core)",
                    f"<= {limit:.2f} s ({TARGET_IDLE_SHARE:.0%} of a core)",
                    cpu <= limit,
                )
            )
        if saves:
            run = scenarios.per_change(receiver, organization, node, saves=saves)
    finally:
        node.stop()
    if not saves:
        return rows
    stack.queue_purge()
    after = scenarios.per_change_baseline(organization, saves)
    baseline = (before + after) / 2
    ratio = run.delivered_per_second / baseline
    print(
        f"(h) {saves:,} creates, webhooks on: {run.delivered_per_second:,.0f} delivered/s end to end "
        f"({ratio:.2f} of {baseline:,.0f} saves/s without webhooks, mean of {before:,.0f} and {after:,.0f}); "
        f"(i) {run.cpu_per_event_ms:.2f} ms worker CPU per event",
        flush=True,
    )
    notes.append(
        f"(h) Saves/s without webhooks: {before:,.0f} before the node ran, {after:,.0f} after. The loop "
        f"itself, webhooks on and the workers running: {run.loop_per_second:,.0f} saves/s; last receipt "
        f"{run.seconds:.2f} s after the first save; {run.duplicates} received twice."
    )
    notes.append(f"(i) Worker CPU over (h): {run.worker_cpu:.2f} s for {saves:,} delivered events.")
    return [
        *rows,
        report.Row(
            f"(h) saves/s, {saves:,} x Location.objects.create(), webhooks disconnected, no workers",
            f"{baseline:,.0f}/s",
        ),
        report.Row(
            "(h) delivered/s, the same loop with webhooks on: first save to last verified receipt",
            f"{run.delivered_per_second:,.0f}/s",
        ),
        report.Row(
            "(h) ratio", f"{ratio:.2f}", f">= {TARGET_PER_CHANGE_RATIO}", ratio >= TARGET_PER_CHANGE_RATIO
        ),
        report.Row(
            "(i) worker CPU per delivered event in (h)",
            f"{run.cpu_per_event_ms:.2f} ms",
            f"<= {TARGET_CPU_PER_EVENT_MS:.0f} ms",
            run.cpu_per_event_ms <= TARGET_CPU_PER_EVENT_MS,
        ),
    ]


def fairness(receiver: "stack.Receiver", *, workers: int, backlog: int, notes: list[str]) -> list[report.Row]:
    """(k) B's one change behind A's backlog. Runs last: A's backlog is left draining when it ends."""
    from bench import scenarios

    stack.queue_purge()
    _a, b, written = scenarios.fairness_backlog(receiver, backlog)
    print(f"(k) A's backlog of {backlog:,} events written in {written:.1f} s", flush=True)
    node = stack.Node(workers)
    try:
        result = scenarios.fairness(receiver, b, backlog=backlog, write_seconds=written)
    finally:
        node.stop()
    stack.queue_purge()
    print(
        f"(k) B's commit-to-receipt: {result.b_seconds:.2f} s; A had received {result.a_received:,} "
        f"of {backlog:,} by then",
        flush=True,
    )
    notes.append(
        f"(k) A's backlog ({backlog:,} events) took {written:.0f} s to write; when B's event arrived A had "
        f"received {result.a_received:,} ({result.a_rate:,.0f}/s since its first)"
        + ("." if result.a_draining else ": A's backlog was already drained, B waited for all of it.")
    )
    return [
        report.Row(
            f"(k) fairness: B's commit-to-receipt behind A's backlog of {backlog:,} events"
            + ("" if result.a_draining else " (drained first)"),
            f"{result.b_seconds:.2f} s",
            f"<= {TARGET_FAIRNESS_SECONDS:.0f} s",
            result.b_seconds <= TARGET_FAIRNESS_SECONDS,
        )
    ]


def scale(receiver: "stack.Receiver", *, write: bool) -> None:
    from bench import scaling

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


def feed(*, write: bool, steps: tuple[int, ...] | None) -> None:
    """(l) Long-polling feed clients against one web process: its own section of docs/benchmarks.md."""
    from bench import feed as feed_bench

    host = report.machine()
    started = time.monotonic()
    capacity = feed_bench.feed_capacity(steps or feed_bench.STEPS)
    stack.queue_purge()  # the hints of the events it committed: no worker ran
    rows = feed_bench.rows(capacity)
    notes = [
        f"Stopped by {capacity.stopped_by}.",
        f"The web process alone, idle: {capacity.idle_rss_mib:,.0f} MiB resident.",
        f"Whole run: {time.monotonic() - started:.0f} s.",
    ]
    print()
    print(report.table(rows))
    print("\n".join(f"- {note}" for note in notes))
    if write:
        web = " ".join(stack.procfile_command("web"))
        setup = (
            f"none; one web process, `{web.rpartition('/')[2]}` (the Procfile's, on a free port), and "
            "N consumers in bench/feed_client.py, each with an API key of its own"
        )
        report.document_write(report.document(rows, host, setup, notes, title="Latest feed run"), "feed")
        print(f"\nwritten to {report.DOC.relative_to(stack.ROOT)}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
