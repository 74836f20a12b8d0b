# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev install-contract migrate demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Test-only packages (pytest, Playwright, schemathesis, the OpenTelemetry SDK, ruff).
$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# The client stacks of tests/contract (openai, anthropic, the instrumentations), in a venv of their
# own; rebuilt only when requirements-contract.txt changes (the test fixture would build it too).
install-contract:
	$(PYTHON) tests/contract/venv.py

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) pilot demo --if-empty

# make run uses the machine's Redis for the job queue and shared rate limits when it answers (jobs
# such as re-flagging and PDFs then leave the request); without Redis both fall back in-process.
run: export REDIS_URL ?= redis://127.0.0.1:6379/0
run: demo
	@echo ""
	@echo "Pilot is serving on http://$(HOST):$(PORT)"
	@echo "Demo logins (password: pilot-demo): admin@example.com, lead@example.com, reviewer@example.com, participant01@example.com"
	@echo ""
	@# The worker runs beside the web server (without Redis it only evaluates the alerts; jobs then run in-process).
	$(FLASK) pilot worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev install-contract
	$(BIN)/ruff check .
	.ci/audit
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not openapi_fuzz"
	$(BIN)/python -m pytest -q -m openapi_fuzz

bench: install-dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .venv-contract .pytest_cache
