"""Workers that share one outbox: 1, 2 and 4 Celery nodes against one backlog, no coordinator.

Each run starts its own worker processes (separate Celery nodes, as on separate hosts), waits
until they are idle and ready, commits one backlog of 1,000 events x 10 endpoints (10,000
deliveries) in one transaction, and times until every delivery has a successful attempt. Nothing
but PostgreSQL (`SELECT ... FOR UPDATE SKIP LOCKED` and leases) keeps two nodes off one delivery;
the receiver counts every `webhook-id` it gets twice.
"""

import itertools
from dataclasses import dataclass

from bench import report, scenarios, stack
from bench.stack import Receiver

NODES = (1, 2, 4)
EVENTS = 1000
ENDPOINTS = 10
# Sender threads per node. The default (16) suits one worker process per core; four processes on
# two cores then run 64 senders and lose about a tenth to contention (docs/benchmarks.md), so the
# runs use the sizing docs/operations.md gives for more processes than cores.
SENDERS = 8


@dataclass
class Run:
    nodes: int
    result: scenarios.Throughput


def scaling(receiver: Receiver, nodes: tuple[int, ...] = NODES) -> list[Run]:
    runs = []
    for count in nodes:
        stack.queue_purge()
        workers = stack.workers_start(count, {"WEBHOOKS_CONCURRENCY": str(SENDERS)})
        try:
            scenarios.throughput(receiver, f"scale-warmup{count}", events_count=100, healthy=1)
            result = scenarios.throughput(
                receiver, f"scale{count}", events_count=EVENTS, healthy=ENDPOINTS, timeout=300
            )
        finally:
            for worker in workers:
                stack.stop(worker)
        print(f"(g) {count} node(s): {result.per_second:,.0f} delivered/s, {result.duplicates} sent twice")
        runs.append(Run(nodes=count, result=result))
    return runs


def rows(runs: list[Run]) -> list[report.Row]:
    base = runs[0].result.per_second
    table = [
        report.Row(
            f"(g) {run.nodes} worker node(s), {EVENTS * ENDPOINTS:,} deliveries to {ENDPOINTS} endpoints",
            f"{run.result.per_second:,.0f}/s ({run.result.per_second / base:.2f}x), "
            f"{run.result.duplicates} sent twice",
        )
        for run in runs
    ]
    never_falls = all(b.result.per_second >= a.result.per_second * 0.9 for a, b in itertools.pairwise(runs))
    table.append(
        report.Row(
            "(g) throughput never falls as nodes are added (within 10 % noise)",
            " -> ".join(f"{run.result.per_second:,.0f}" for run in runs),
            "does not fall",
            never_falls,
        )
    )
    sent_twice = sum(run.result.duplicates for run in runs)
    table.append(report.Row("(g) deliveries sent twice, all runs", str(sent_twice), "0", sent_twice == 0))
    return table
