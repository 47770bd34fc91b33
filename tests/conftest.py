"""Shared fixtures: the small test corpus in every format, a CLI runner, and helpers to read outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from sievekit.cli.main import app
from sievekit.io import ReadOptions, iter_batches, resolve_inputs

# In CI the property and fuzz tests run the same examples every time (a new random find would fail a
# submission at random); on a developer's machine they keep exploring.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

DATA = Path(__file__).parent / "data"
POOL_FORMATS = ["pool.jsonl", "pool.jsonl.gz", "pool.jsonl.zst", "pool.parquet"]


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner):
    def run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return run


def read_records(path: str | Path) -> list[dict]:
    """Every record of a shard, as dicts (any format)."""
    shards = resolve_inputs([str(path)])
    out: list[dict] = []
    for shard in shards:
        for batch in iter_batches(shard, ReadOptions()):
            out.extend(batch.records())
    return out


def one_error_line(stderr: str) -> str:
    """The one ``Error:`` line of a failed run's stderr (asserting there is exactly one and no traceback)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def pool_records() -> list[dict]:
    return [json.loads(line) for line in (DATA / "pool.jsonl").read_text().splitlines() if line.strip()]
