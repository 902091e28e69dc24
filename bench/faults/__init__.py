"""Fault-injection harness: `python -m bench.faults` (issue 8). See docs/reliability.md."""
