"""`make run` for real: the commands it runs, then the processes of its Procfile under honcho.

Each test runs the product as separate processes on a database and broker folder of its own (a temp
SQLite file and folder, as on a fresh clone), so it never touches the test database or a shared
Redis. Every process started here carries a marker in its environment: that is how the test finds
all of them, grandchildren included, and proves none outlives Ctrl-C.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
PORT = 8000  # the Procfile hard-codes 127.0.0.1:8000
MARKER = "EDRV_MAKE_RUN_SMOKE"
START_WITHIN = 90.0
STOP_WITHIN = 15.0


@pytest.fixture(scope="module")
def product_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment `make run` gives its processes, on a fresh database (migrated, as it does)."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("finding every process started needs Linux's /proc")
    folder = tmp_path_factory.mktemp("make-run")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "edrv_project.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CELERY_FILESYSTEM_BROKER_DIR": str(folder / "broker"),
        "DEBUG": "true",
        "WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOKS_ALLOW_HTTP": "true",
        "PYTHONUNBUFFERED": "1",
        MARKER: uuid.uuid4().hex,
    }
    manage(env, "migrate", "--noinput")
    yield env
    # Whatever went wrong above, leave no process of ours behind.
    for pid in marked_pids(env):
        os.kill(pid, signal.SIGKILL)


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def row_counts(env: dict[str, str]) -> dict[str, int]:
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    tables = [
        "organizations_organization",
        "organizations_membership",
        "auth_user",
        "chargestations_location",
        "chargestations_chargestation",
        "chargestations_connector",
        "chargestations_rate",
        "chargestations_pricecomponent",
        "sessions_app_driver",
        "sessions_app_idtag",
        "organizations_apikey",
    ]
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}


def marked_pids(env: dict[str, str]) -> set[int]:
    """Every live process whose environment carries this run's marker."""
    needle = f"{MARKER}={env[MARKER]}".encode()
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()  # empty for a zombie: it is already gone
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            pids.add(int(entry.name))
    return pids


def http_get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes] | None:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    condition: Callable[[], bool], *, within: float, alive: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if alive.poll() is not None:
            pytest.fail(f"honcho exited early (rc={alive.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {within}s:\n{log.read_text()}")
        time.sleep(0.3)


def test_seed_demo_twice_duplicates_nothing_and_prints_a_new_key(product_env: dict[str, str]) -> None:
    # Given a fresh, migrated database, seeded once
    first = manage(product_env, "seed_demo")
    after_first = row_counts(product_env)

    # When seed_demo runs again, as every `make run` does
    second = manage(product_env, "seed_demo")

    # Then it added only an API key, and each run printed the login and its own key last
    one_more_key = {"organizations_apikey": after_first["organizations_apikey"] + 1}
    assert row_counts(product_env) == after_first | one_more_key
    assert after_first["chargestations_chargestation"] == 3
    first_key, second_key = (run.stdout.strip().splitlines()[-1] for run in (first, second))
    assert first_key.startswith("edrv_") and second_key.startswith("edrv_") and first_key != second_key
    assert "demo / demo-password-1" in first.stdout and "demo / demo-password-1" in second.stdout


def test_create_organization_from_the_command_line(product_env: dict[str, str]) -> None:
    # Given the command line
    # When create_organization is given a bad plan, then good arguments
    command = ("create_organization", "Acme", "--email", "a@acme.example")
    bad = manage(product_env, *command, "--plan", "gold", check=False)
    good = manage(product_env, *command, "--plan", "pro")

    # Then the first fails with a reason and a non-zero status; the second prints its key alone last
    assert bad.returncode != 0
    assert "'gold' is not a plan" in bad.stderr
    last_line = good.stdout.rstrip("\n").split("\n")[-1]
    assert last_line.startswith("edrv_") and last_line == last_line.strip()


@pytest.mark.parametrize(("environment", "loaded"), [(None, "True"), ("false", "False")])
def test_make_run_lets_stations_without_a_key_connect_unless_the_environment_says_not(
    tmp_path: Path, environment: str | None, loaded: str
) -> None:
    if shutil.which("make") is None:
        pytest.skip("needs GNU make")
    # Given an environment that says nothing of OCPP_ALLOW_UNSECURED (or says false), and a first
    # prerequisite for `run` that loads the settings as its processes would, then stops make there
    # (before its install, migrate, seed_demo and honcho): it gets what `run` exports to its recipe
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    if environment is not None:
        env["OCPP_ALLOW_UNSECURED"] = environment
    load = "from django.conf import settings; print(settings.OCPP_ALLOW_UNSECURED)"
    probe = f"settings-probe:\n\t@$(PY) -c '{load}'\n\t@exit 3"

    # When `make run` starts
    result = subprocess.run(
        ["make", "--no-print-directory", "--eval", "run: settings-probe", "--eval", probe, "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then its processes' settings allow stations without a key, unless the environment said otherwise
    stopped_at_the_probe = result.stderr.rstrip().endswith("settings-probe] Error 3")  # and nothing ran after
    assert (result.returncode, stopped_at_the_probe) == (2, True), result.stderr
    assert result.stdout.strip() == loaded


def test_make_run_serves_and_stops_cleanly_on_ctrl_c(product_env: dict[str, str], tmp_path: Path) -> None:
    if port_in_use(PORT):
        pytest.skip(f"127.0.0.1:{PORT} is busy and the Procfile hard-codes that port: free it to run this")
    # Given the demo seeded, as `make run` does before starting its processes
    api_key = manage(product_env, "seed_demo").stdout.strip().splitlines()[-1]
    log = tmp_path / "honcho.log"

    # When the Procfile runs under honcho, exactly as `make run` starts it
    with log.open("wb") as out:
        honcho = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "start", "--no-prefix", "-f", "Procfile"],
            cwd=ROOT,
            env=product_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C below reaches it and only it
        )
    try:
        # Then the web server answers, with the worker and beat up
        wait_until(
            lambda: (
                (http_get("/healthz") or (0, b""))[0] == 200
                and " ready." in log.read_text()
                and "beat: Starting" in log.read_text()
            ),
            within=START_WITHIN,
            alive=honcho,
            log=log,
        )
        status, body = http_get("/healthz") or (0, b"")
        assert json.loads(body) == {"status": "ok", "database": "ok", "broker": "ok"}
        status, body = http_get("/api/v1/organization", {"Authorization": f"Bearer {api_key}"}) or (0, b"")
        assert (status, json.loads(body)["name"]) == (200, "Demo Charging Co")
        started = marked_pids(product_env)
        assert len(started) >= 5, started  # honcho, web, worker and its pool, beat

        # When Ctrl-C is pressed (SIGINT to the terminal's foreground process group)
        os.killpg(honcho.pid, signal.SIGINT)
        stopping_since = time.monotonic()
        honcho.wait(timeout=STOP_WITHIN)
        while marked_pids(product_env) and time.monotonic() - stopping_since < STOP_WITHIN:
            time.sleep(0.2)

        # Then every process is gone within the limit, none orphaned, and the port is free again
        assert not marked_pids(product_env), f"still running after {STOP_WITHIN}s:\n{log.read_text()}"
        assert not port_in_use(PORT)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
        sys.stdout.write(log.read_text()[-4000:])  # shown by pytest when the test fails
