# Two commands for a newcomer: `make demo` (install + run the demo job) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := sievekit/demo
OUT ?= demo-out

.PHONY: install demo test bench-io clean

$(BIN)/sievekit: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/sievekit

# The demo job: select the pool documents most like the target (held-out Python modules), then report.
demo: install
	rm -rf $(OUT)
	$(BIN)/sievekit report $(DEMO)/pool
	$(BIN)/sievekit select $(DEMO)/pool --method length --top-k 100 -o $(OUT)/selected
	$(BIN)/sievekit report $(OUT)/selected

test: install
	$(BIN)/python -m pytest -q

bench-io: install
	$(BIN)/python bench/io_throughput.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
