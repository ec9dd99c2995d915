# The two commands a newcomer needs: `make run` and `make test`.
# Each creates the virtual environment and installs what it needs when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench scale soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/baoxiu serve

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint
	$(PY) -m pytest

# The crash and fuzz harnesses of the test suite, run long: 40 SIGKILLs, 20,000 requests.
soak: $(STAMP)
	BAOXIU_SOAK_ROUNDS=40 BAOXIU_FUZZ_REQUESTS=20000 $(PY) -m pytest tests/test_crash.py tests/test_fuzz.py

bench: $(STAMP)
	$(PY) bench/flow.py
	$(PY) bench/dispatch.py
	$(PY) bench/notify.py
	$(PY) bench/fanout.py --tickets 500
	$(PY) bench/telegram.py
	$(PY) bench/web.py
	$(PY) bench/wechat.py

# At a utility's scale (issue 11): builds bench/.data/tickets-1000000-v*.db on first use
# (minutes), then lists, export and new tickets beside raw SQLite. TICKETS=100000 for less.
TICKETS ?= 1000000
scale: $(STAMP)
	$(PY) bench/scale.py --tickets $(TICKETS)
	$(PY) bench/console.py --tickets $(TICKETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
