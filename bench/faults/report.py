"""The harness's output: one table on stdout, and the same table in docs/reliability.md."""

import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.faults.ledger import Row

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- faults:results -->", "<!-- /faults:results -->"
HEADER = (
    "| scenario | committed | delivered | lost | invented | duplicates | API 5xx in fault "
    "| drained (s) | crashes | verdict |"
)


def _cell(row: Row) -> list[str]:
    return [
        row.scenario,
        str(row.committed),
        str(row.delivered),
        str(row.lost),
        str(row.invented),
        str(row.duplicates),
        "-" if row.api_5xx is None else str(row.api_5xx),
        "never" if row.drained is None else f"{row.drained:.1f}",
        f"**{row.crashes}**" if row.crashes else "0",
        "ok" if row.ok else "**FAILED**",
    ]


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * 10]
    lines += ["| " + " | ".join(_cell(row)) + " |" for row in rows]
    return "\n".join(lines)


def notes(rows: list[Row]) -> str:
    return "\n".join(f"- {row.scenario.split('.')[0]}. " + "; ".join(row.notes) for row in rows if row.notes)


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "unknown"
    found = re.search(r"\d+\.\d+(\.\d+)?", out)
    return found.group(0) if found else "unknown"


def machine(postgres_bin: Path) -> str:
    cpu = platform.processor() or "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists() and (found := re.search(r"^model name\s*:\s*(.+)$", info.read_text(), re.MULTILINE)):
        cpu = found.group(1).strip()
    ram = ""
    mem = Path("/proc/meminfo")
    if mem.exists() and (found := re.search(r"^MemTotal:\s*(\d+) kB", mem.read_text(), re.MULTILINE)):
        ram = f", {int(found.group(1)) / 1024 / 1024:.0f} GiB RAM"
    postgres = _version([str(postgres_bin / "postgres"), "--version"])
    redis = _version(["redis-server", "--version"])
    return (
        f"{cpu}, {os.cpu_count()} cores{ram}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, PostgreSQL {postgres}, Redis {redis}"
    )


def section(rows: list[Row], *, host: str, seconds: float, quick: bool) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            BEGIN,
            f"Run of {when}{' (quick: reduced loads)' if quick else ''}, {seconds:.0f} s in all, on {host}.",
            "",
            table(rows),
            "",
            "Notes per scenario:",
            "",
            notes(rows),
            END,
        ]
    )


def doc_write(text: str) -> None:
    """Replace the results section of docs/reliability.md (the prose around it stays)."""
    current = DOC.read_text() if DOC.exists() else f"# Reliability under faults\n\n{BEGIN}\n{END}\n"
    if BEGIN not in current or END not in current:
        current = current.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + text + tail)
