"""The benchmark's output: one table (figures, ratios, targets) on stdout and in docs/benchmarks.md."""

import os
import platform
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.stack import REDIS, ROOT

DOC = ROOT / "docs" / "benchmarks.md"
SECTIONS = {"results": "bench:results", "scaling": "bench:scaling", "feed": "bench:feed"}


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "**missed**")


def machine() -> dict[str, str]:
    from django.db import connection

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else platform.processor() or cpu
    ram = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s*(\d+) kB", meminfo.read_text(), re.MULTILINE)
        ram = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else ram
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    import redis

    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "PostgreSQL": postgres,
        "Redis": str(redis.Redis.from_url(REDIS).info("server")["redis_version"]),
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        # Other work on the machine makes every figure noisier: say how busy it was.
        "load average at start": " ".join(f"{n:.2f}" for n in os.getloadavg()),
    }


def table(rows: list[Row]) -> str:
    lines = ["| figure | value | target | |", "|---|---:|---|---|"]
    lines += [f"| {r.figure} | {r.value} | {r.target} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def document(
    rows: list[Row], host: dict[str, str], setup: str, notes: list[str], title: str = "Latest run"
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_lines = "\n".join(f"- {name}: {value}" for name, value in host.items())
    note_lines = "\n".join(f"- {note}" for note in notes)
    return f"## {title}: {when}\n\n{machine_lines}\n- Workers: {setup}\n\n{table(rows)}\n\n{note_lines}\n"


def document_write(section: str, name: str = "results") -> None:
    """Replace one marked section of docs/benchmarks.md (`results`, `scaling`), keeping the rest."""
    begin, end = f"<!-- {SECTIONS[name]} -->", f"<!-- /{SECTIONS[name]} -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if begin not in text:
        text = text.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1] if end in rest else "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(f"{head}{begin}\n{section}{end}{tail}")
