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
# REDIS_URL say otherwise: web on 127.0.0.1:8000, a Celery worker and beat. Ctrl-C stops all.
run: export DEBUG ?= true
run: export WEBHOOKS_ALLOWED_NETWORKS ?= 127.0.0.0/8,::1/128
run: export WEBHOOKS_ALLOW_HTTP ?= true
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

pytest: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) -m bench

# Breaks the stack on purpose (its own PostgreSQL and Redis) and counts what was lost.
faults: $(STAMP)
	$(PY) -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles
