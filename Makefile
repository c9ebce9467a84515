# Dayuan 智慧大院 — the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test e2e lint format bench install demo clean check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dayuan migrate --noinput -v0
	$(BIN)/dayuan demo --if-empty --url http://127.0.0.1:$(PORT)/
	@echo "Serving on http://127.0.0.1:$(PORT)  (task consumer running alongside; Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/dayuan run_huey --quiet & \
	  $(BIN)/dayuan runserver 127.0.0.1:$(PORT) --noreload

# Two workers (the machine's two cores); each test file stays on one worker, so a
# module's shared demo load (``module_db``) happens once.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/dayuan check
	$(BIN)/dayuan makemigrations --check --dry-run -v0
	$(BIN)/python -m pytest -q -p no:randomly -n $(TEST_WORKERS) --dist loadfile

e2e: $(STAMP)
	$(BIN)/python -m pytest -q -m e2e tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check src tests bench conftest.py
	$(BIN)/ruff format --check src tests bench conftest.py

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench conftest.py
	$(BIN)/ruff format src tests bench conftest.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

demo: $(STAMP)
	$(BIN)/dayuan migrate --noinput -v0
	$(BIN)/dayuan demo

clean:
	rm -rf var/*.sqlite3* var/huey* artifacts
