"""The delivery benchmark (`make bench`, `python -m bench`); not a test suite. See docs/benchmarks.md."""
