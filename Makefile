# agentloom: `make run` starts the whole stack on embedded defaults; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-peers chaos clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/agentloom up --port $${PORT:-8006}

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# agentloom's figures, then Celery and DBOS on the same workloads in the same invocation, side by side
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.peers

# only the peers (../shared/bench/peers), compared with the figures of the last `make bench`
bench-peers: $(STAMP)
	$(BIN)/python -m bench.peers

# random kill -9 faults against the local stack for MINUTES (default 5), then a summary table
chaos: $(STAMP)
	$(BIN)/python -m tests.e2e.chaos_kit --minutes $${MINUTES:-5}

clean:
	rm -rf $(VENV) .agentloom
