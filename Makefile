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
	# Optional extras: their tests are skipped, with the reason, where a wheel is not available.
	$(BIN)/pip install --quiet -e '.[classifier]' || echo "note: the classifier extra did not install; the classifier's default fit needs numba (the fast extra) then, and its other tests are skipped"
	$(BIN)/pip install --quiet -e '.[fast]' || echo "note: the fast extra (numba) did not install; the n-gram featurizer runs its numpy path (same features, slower)"
	$(BIN)/pip install --quiet -e '.[ray]' || echo "note: the ray extra did not install; its tests will be skipped"
	$(BIN)/pip install --quiet -e '.[remote]' || echo "note: the remote extra did not install; its tests will be skipped"
	$(BIN)/pip install --quiet -e '.[tokens]' || echo "note: the tokens extra did not install; exact-tokenizer tests will be skipped"
	$(BIN)/pip install --quiet -e '.[hub]' || echo "note: the hub extra did not install; hf:// needs it"
	touch $@

install: $(BIN)/sievekit

# The demo job: drop duplicates from the shipped pool, select the 200 documents most like the target
# (held-out Python modules) with the default method (the classifier), and report what the selection holds
# (also as demo-out/report.html).
demo: install
	rm -rf $(OUT)
	$(BIN)/sievekit dedupe $(DEMO)/pool -o $(OUT)/deduped
	$(BIN)/sievekit select $(OUT)/deduped --target $(DEMO)/target.jsonl --top-k 200 -o $(OUT)/selected
	$(BIN)/sievekit report $(OUT)/selected --by domain --target $(DEMO)/target.jsonl --html $(OUT)/report.html

test: install
	$(BIN)/python -m pytest -q

bench-io: install
	$(BIN)/python bench/io_throughput.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
