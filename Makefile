# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export DJANGO_SETTINGS_MODULE := edrv_project.settings

.PHONY: run test lint typecheck pytest bench faults install migrate seed clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The product on the embedded defaults (SQLite, a folder as broker) unless DATABASE_URL /
# REDIS_URL say otherwise: web (uvicorn) on 127.0.0.1:8000, a Celery worker and beat. Ctrl-C stops all.
run: export DEBUG ?= true
run: export WEBHOOKS_ALLOWED_NETWORKS ?= 127.0.0.0/8,::1/128
run: export WEBHOOKS_ALLOW_HTTP ?= true
# Stations without an authorization key may connect (development only); the demo's chargers have keys.
run: export OCPP_ALLOW_UNSECURED ?= true
# Where every process of the run counts for /metrics (settings); a new run counts from zero.
run: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus
run: $(STAMP)
	rm -f "$$PROMETHEUS_MULTIPROC_DIR"/*.db
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho start --no-prefix -f Procfile

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

# Tests and the benchmarks' stacks encrypt stored secrets with a fixed key of their own (base64 of
# "edrv-test-only-key-not-for-prod!"): the settings know nothing of tests, and refuse to load without a
# key when DEBUG is off (mypy loads them too). Processes they start inherit it.
TEST_ENCRYPTION_KEY := ZWRydi10ZXN0LW9ubHkta2V5LW5vdC1mb3ItcHJvZCE=
pytest typecheck bench faults: export ENCRYPTION_KEYS ?= $(TEST_ENCRYPTION_KEY)
# They (and mypy, which loads the settings) run with DEBUG off, as production does, which refuses to start
# without a SECRET_KEY of its own: a test-only one, never a deployment's. Their servers speak plain HTTP
# on 127.0.0.1: no redirect to HTTPS.
pytest typecheck bench faults: export SECRET_KEY ?= test-only-secret-key-never-use-it-in-a-deployment-0123456789
pytest bench faults: export SECURE_SSL_REDIRECT ?= false
# A test run counts /metrics in a directory of its own, emptied first: never in `make run`'s.
pytest: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/var/prometheus-test
pytest: $(STAMP)
	rm -rf "$$PROMETHEUS_MULTIPROC_DIR"
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m bench

# Breaks the stack on purpose (its own PostgreSQL and Redis) and counts what was lost.
faults: $(STAMP)
	$(PY) -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles
