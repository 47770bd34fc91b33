"""The write pass copies a JSON Lines shard's kept lines without parsing it again when a reader of the run parsed
it whole; its bytes are those of the parsing path, and every case it cannot vouch for goes the parsing way."""

from __future__ import annotations

import codecs
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sievekit.errors import ConfigError, InputError, ShardError
from sievekit.io import ReadOptions, ShardStats, iter_batches, resolve_inputs
from sievekit.io import jsonl as jsonl_module
from sievekit.io.jsonl import JsonlFormat, JsonlWriter
from sievekit.run import writeback
from tests.conftest import DATA, one_error_line

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = [".jsonl", ".jsonl.gz", ".jsonl.zst"]


def _packed(data: bytes, suffix: str) -> bytes:
    if suffix.endswith(".gz"):
        return gzip.compress(data, mtime=0)
    if suffix.endswith(".zst"):  # two frames: the reader walks frames by hand
        half = len(data) // 2
        cctx = zstandard.ZstdCompressor()
        return cctx.compress(data[:half]) + cctx.compress(data[half:])
    return data


def _shard(folder: Path, data: bytes, suffix: str = ".jsonl", name: str = "shard"):
    path = folder / f"{name}{suffix}"
    path.write_bytes(_packed(data, suffix))
    return resolve_inputs([str(path)])[0]


def _scored(shard, opts: ReadOptions) -> ShardStats:
    """The counters of a scoring pass over ``shard`` (text and id only, as it reads)."""
    stats = ShardStats()
    for _ in iter_batches(shard, opts, stats, all_columns=False):
        pass
    return stats


def _write(shard, keep, opts, target: Path, scored: ShardStats | None, extra=None, digest=None) -> bytes:
    """One shard through the write pass into ``target`` (its codec by its name); the file's bytes."""
    writeback.write_shard_file(shard, np.asarray(keep, dtype=bool), extra, str(target), opts, None, digest, scored)
    return target.read_bytes()


@pytest.fixture
def spy(monkeypatch):
    """Counts the raw-line reads and the records parsed (by any loader the JSONL module uses)."""
    calls = {"raw": 0, "parsed": 0}
    raw_batches, loads, fast_loads = JsonlFormat.raw_batches, jsonl_module.loads, jsonl_module.fast_loads

    def counted_raw(self, *args, **kwargs):
        calls["raw"] += 1
        return raw_batches(self, *args, **kwargs)

    def counted(fn):
        def wrapper(line):
            calls["parsed"] += 1
            return fn(line)
        return wrapper

    monkeypatch.setattr(JsonlFormat, "raw_batches", counted_raw)
    monkeypatch.setattr(jsonl_module, "loads", counted(loads))
    monkeypatch.setattr(jsonl_module, "fast_loads", counted(fast_loads))
    return calls


# -- the property: any records, blank lines, line ends, keep masks and codecs give the parsing path's bytes -------

_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                 max_size=3), max_leaves=6)
_records = st.fixed_dictionaries({"text": st.text(max_size=40)},
                                 optional={"id": st.integers(0, 99) | st.text(max_size=5), "meta": _values})
_blank = st.sampled_from(["", " ", "\t", "\r", "  \r"])


@st.composite
def _shards(draw):
    records = draw(st.lists(_records, min_size=1, max_size=25))
    lines = []
    for rec in records:
        lines += draw(st.lists(_blank, max_size=2))
        lines.append(json.dumps(rec, ensure_ascii=draw(st.booleans()),
                                separators=draw(st.sampled_from([(", ", ": "), (",", ":")]))))
    lines += draw(st.lists(_blank, max_size=2))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    data = (codecs.BOM_UTF8 if draw(st.booleans()) else b"") + text.encode("utf-8")
    keep = draw(st.lists(st.booleans(), min_size=len(records), max_size=len(records)))
    return data, keep


@PROPERTY
@given(case=_shards(), suffix=st.sampled_from(SUFFIXES), batch_size=st.integers(1, 6), annotate=st.booleans())
def test_copied_lines_are_the_parsing_paths_bytes(tmp_path_factory, case, suffix, batch_size, annotate):
    data, keep = case
    folder = tmp_path_factory.mktemp("prop")
    shard = _shard(folder, data, suffix)
    opts = ReadOptions(batch_size=batch_size)
    scored = _scored(shard, opts)
    assert scored.rows == len(keep)  # every non-blank line is a record
    extra = {"score": np.linspace(0.5, 2.0, len(keep)), "rank": np.arange(len(keep))} if annotate else None
    parsed = _write(shard, keep, opts, folder / f"parsed{suffix}", None, extra)
    copied = _write(shard, keep, opts, folder / f"copied{suffix}", scored, extra)
    assert copied == parsed
    assert writeback.copies_lines(shard, len(keep), scored, None)


def test_nothing_is_parsed_when_no_field_is_added(tmp_path, spy):
    data = b"".join(json.dumps({"id": i, "text": f"doc {i}"}).encode() + b"\n" for i in range(50))
    shard = _shard(tmp_path, data, ".jsonl.zst")
    opts = ReadOptions(batch_size=8)
    scored = _scored(shard, opts)
    spy["parsed"] = 0
    keep = np.arange(50) % 7 == 0
    out = _write(shard, keep, opts, tmp_path / "out.jsonl", scored)
    assert spy == {"raw": 1, "parsed": 0}
    assert out.splitlines() == [json.dumps({"id": i, "text": f"doc {i}"}).encode() for i in range(0, 50, 7)]


def test_annotating_parses_the_kept_lines_and_only_the_dropped_ones_that_may_hold_the_field(tmp_path, spy):
    lines = [json.dumps({"id": i, "text": f"doc {i}"}) for i in range(40)]
    lines[3] = json.dumps({"id": 3, "text": "mentions \"score\" in its text"})  # escaped quotes: no candidate
    lines[4] = json.dumps({"id": 4, "text": "caf\u00e9"})  # ensure_ascii: \u00e9 spells no ASCII name
    lines[5] = '{"id": 5, "text": "\\u0041 escaped"}'  # an escaped printable ASCII character: a candidate
    lines[6] = json.dumps({"id": 6, "text": "doc", "label": "score"})  # the quoted name as a value: a candidate
    shard = _shard(tmp_path, "\n".join(lines).encode() + b"\n")
    opts = ReadOptions(batch_size=16)
    scored = _scored(shard, opts)
    keep = np.zeros(40, dtype=bool)
    keep[[0, 10, 20]] = True
    extra = {"score": np.arange(40) / 4}
    spy["parsed"] = 0
    out = _write(shard, keep, opts, tmp_path / "out.jsonl", scored, extra)
    assert spy["raw"] == 1 and spy["parsed"] == 3 + 2
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": i, "text": f"doc {i}", "score": i / 4} for i in (0, 10, 20)]
    assert out == _write(shard, keep, opts, tmp_path / "parsed.jsonl", None, extra)


@pytest.mark.parametrize("spelling", ['"score": 1', '"sc\\u006fre": 1'])
def test_a_dropped_record_holding_an_added_field_is_refused_on_both_paths(tmp_path, spelling):
    lines = [json.dumps({"id": i, "text": f"doc {i}"}) for i in range(10)]
    lines[7] = '{"id": 7, "text": "doc 7", ' + spelling + "}"
    shard = _shard(tmp_path, "\n".join(lines).encode() + b"\n")
    opts = ReadOptions(batch_size=4)
    scored = _scored(shard, opts)
    keep = np.arange(10) < 3  # record 7 is dropped
    extra = {"score": np.zeros(10)}
    messages = []
    for name, stats in (("parsed", None), ("copied", scored)):
        with pytest.raises(ConfigError) as exc:
            _write(shard, keep, opts, tmp_path / f"{name}.jsonl", stats, extra)
        messages.append(str(exc.value))
        assert not (tmp_path / f"{name}.jsonl").exists()
    assert messages[0] == messages[1] and "already have a field 'score'" in messages[0]


def test_fields_among_finds_every_spelling_of_a_name_and_reads_every_line_for_an_odd_name():
    lines = [b'{"text": "a"}', b'{"text": "b", "r\\u0061nk": 2}', b'{"text": "c", "a/b": 1}']
    assert jsonl_module.fields_among(lines, ["rank", "score"]) == {"rank"}
    assert jsonl_module.fields_among(lines, ["a/b"]) == {"a/b"}
    assert jsonl_module.fields_among([b'{"text": "x", "a\\/b": 1}'], ["a/b"]) == {"a/b"}
    assert jsonl_module.fields_among(lines, ["score"]) == set()


_NAMES = ["score", "rank", "target", "a/b", "caf\u00e9", "x\ny"]


def _spelled(text: str, escaped: list[bool]) -> str:
    """A JSON string literal with each character as is or escaped (as \\uXXXX, or \\/ for a slash), at
    random; quotes, backslashes and control characters are always escaped."""
    out = []
    for c, esc in zip(text, escaped + [False] * len(text)):
        if c == "/" and esc:
            out.append("\\/")
        elif esc or c in '"\\' or c < " ":
            out.append(json.dumps(c, ensure_ascii=True)[1:-1] if ord(c) > 0xFFFF else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


@PROPERTY
@given(records=st.lists(st.lists(st.tuples(st.sampled_from(_NAMES) | st.text(max_size=6), st.text(max_size=12),
                                             st.lists(st.booleans(), max_size=12),
                                             st.lists(st.booleans(), max_size=12)), max_size=4), max_size=8),
       names=st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3))
def test_fields_among_agrees_with_parsing_every_line(records, names):
    lines = [("{" + ", ".join(f"{_spelled(k, ek)}: {_spelled(v, ev)}" for k, v, ek, ev in rec) + "}").encode()
             for rec in records]
    truth = {name for line in lines for name in names if name in json.loads(line)}
    assert jsonl_module.fields_among(lines, names) == truth


# -- the cases the copy cannot vouch for go the parsing way (pinned) ------------------------------------------


def _pool(tmp_path: Path, bad: bool = False) -> tuple[object, bytes]:
    lines = [json.dumps({"id": i, "text": f"doc {i}"}) for i in range(12)]
    if bad:
        lines[4] = '{"id": 4, "text": '  # malformed: skipped under --on-bad-record skip
    data = "\n".join(lines).encode() + b"\n"
    return _shard(tmp_path, data), data


def test_skipped_records_shift_the_rows_so_the_shard_is_parsed(tmp_path, spy):
    shard, _ = _pool(tmp_path, bad=True)
    opts = ReadOptions(batch_size=5, on_bad_record="skip")
    scored = _scored(shard, opts)
    assert scored.rows == 11 and scored.skipped["malformed_json"] == 1
    assert not writeback.copies_lines(shard, 11, scored, None)
    keep = np.arange(11) % 2 == 0
    out = _write(shard, keep, opts, tmp_path / "out.jsonl", scored)
    assert spy["raw"] == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == [0, 2, 5, 7, 9, 11]  # row 4 is id 5


def test_a_sidecars_id_digest_is_checked_on_the_parsed_shard(tmp_path, spy):
    shard, _ = _pool(tmp_path)
    opts = ReadOptions()
    scored = _scored(shard, opts)
    digest = writeback.IdDigest()
    digest.update([str(i) for i in range(12)])
    assert not writeback.copies_lines(shard, 12, scored, digest.hexdigest())
    _write(shard, np.ones(12, dtype=bool), opts, tmp_path / "ok.jsonl", scored, digest=digest.hexdigest())
    wrong = writeback.IdDigest()
    wrong.update([str(i) for i in range(1, 13)])
    with pytest.raises(ShardError, match="sidecar's ids differ"):
        _write(shard, np.ones(12, dtype=bool), opts, tmp_path / "bad.jsonl", scored, digest=wrong.hexdigest())
    assert spy["raw"] == 0


def test_scores_without_a_reader_of_the_shard_are_written_by_parsing(tmp_path, spy):
    """Scores from sidecars come with empty counters: the shard was never parsed in this run."""
    shard, _ = _pool(tmp_path)
    assert not writeback.copies_lines(shard, 12, ShardStats(), None)
    _write(shard, np.ones(12, dtype=bool), ReadOptions(), tmp_path / "out.jsonl", ShardStats())
    assert spy["raw"] == 0


def test_parquet_is_never_copied_as_lines(tmp_path):
    shard = resolve_inputs([str(DATA / "pool.parquet")])[0]
    scored = _scored(shard, ReadOptions())
    assert not writeback.copies_lines(shard, scored.rows, scored, None)


def test_a_shard_grown_since_it_was_scored_fails_the_same_on_both_paths(tmp_path):
    shard, data = _pool(tmp_path)
    opts = ReadOptions()
    scored = _scored(shard, opts)
    Path(shard.path).write_bytes(data + b'{"id": 12, "text": "late"}\n')
    messages = []
    for name, stats in (("parsed", None), ("copied", scored)):
        with pytest.raises(ShardError) as exc:
            _write(shard, np.ones(12, dtype=bool), opts, tmp_path / f"{name}.jsonl", stats)
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "has 13 records but 12 scores" in messages[0]


def test_a_shard_edited_since_it_was_scored_is_caught_by_its_byte_count(tmp_path):
    shard, data = _pool(tmp_path)
    opts = ReadOptions()
    scored = _scored(shard, opts)
    Path(shard.path).write_bytes(data.replace(b'"doc 3"', b'"doc three"'))  # same rows, other bytes
    with pytest.raises(ShardError, match="bytes,"):
        _write(shard, np.ones(12, dtype=bool), opts, tmp_path / "out.jsonl", scored)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_zstd_stream_cut_short_since_it_was_scored_fails_on_both_paths(tmp_path):
    data = b"".join(json.dumps({"id": i, "text": f"doc {i} " * 20}).encode() + b"\n" for i in range(200))
    shard = _shard(tmp_path, data, ".jsonl.zst")
    opts = ReadOptions()
    scored = _scored(shard, opts)
    whole = Path(shard.path).read_bytes()
    Path(shard.path).write_bytes(whole[: len(whole) - 40])
    for name, stats in (("parsed", None), ("copied", scored)):
        with pytest.raises(InputError, match="truncated"):
            _write(shard, np.ones(200, dtype=bool), opts, tmp_path / f"{name}.jsonl", stats)


def test_a_truncated_stream_skipped_when_scored_is_written_by_parsing(tmp_path, spy):
    data = b"".join(json.dumps({"id": i, "text": f"doc {i} " * 20}).encode() + b"\n" for i in range(200))
    shard = _shard(tmp_path, data, ".jsonl.zst")
    whole = Path(shard.path).read_bytes()
    Path(shard.path).write_bytes(whole[: len(whole) - 40])
    opts = ReadOptions(on_bad_record="skip")
    scored = _scored(shard, opts)  # with a notice on stderr
    assert scored.skipped["truncated_stream"] == 1
    assert not writeback.copies_lines(shard, scored.rows, scored, None)
    keep = np.ones(scored.rows, dtype=bool)
    out = _write(shard, keep, opts, tmp_path / "out.jsonl", scored)
    assert spy["raw"] == 0 and out == data[: len(out)] and len(out.splitlines()) == scored.rows


def test_bom_blank_lines_crlf_and_a_last_line_without_newline(tmp_path):
    data = codecs.BOM_UTF8 + b'{"id": 0, "text": "a"}\r\n\r\n  \n{"id": 1, "text": "b"}\r\n\n{"id": 2, "text": "c"}'
    shard = _shard(tmp_path, data)
    opts = ReadOptions(batch_size=2)
    scored = _scored(shard, opts)
    for keep in ([True, True, True], [True, False, True], [False, False, False]):
        copied = _write(shard, keep, opts, tmp_path / "copied.jsonl", scored)
        assert copied == _write(shard, keep, opts, tmp_path / "parsed.jsonl", None)
    assert _write(shard, [True, True, True], opts, tmp_path / "all.jsonl", scored) == \
        b'{"id": 0, "text": "a"}\r\n{"id": 1, "text": "b"}\r\n{"id": 2, "text": "c"}\n'


def test_write_lines_refuses_a_kept_line_that_no_longer_parses(tmp_path):
    class Sink:
        def write(self, data: bytes) -> None:
            raise AssertionError("nothing is written")

    writer = JsonlWriter(Sink(), "x.jsonl")  # type: ignore[arg-type]
    with pytest.raises(ShardError, match="x.jsonl: record 8 is no longer a JSON object"):
        writer.write_lines(7, [b'{"text": "a"}', b"[1, 2]"], [False, True], {"score": [0.0, 1.0]})


# -- end to end: select and dedupe write the same bytes as the parsing path ------------------------------------


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")
            and "manifest" not in p.name}


@pytest.mark.parametrize("args", [
    ["--method", "random", "--top-k", "9"],
    ["--method", "length", "--fraction", "0.4", "--annotate"],
    ["--method", "length", "--top-k", "7", "--split-mb", "0.002", "--batch-size", "3"],
])
def test_select_writes_the_same_bytes_as_before(invoke, tmp_path, monkeypatch, args: Sequence[str]):
    pool = tmp_path / "pool"
    pool.mkdir()
    for name in ("pool.jsonl", "pool.jsonl.gz", "pool.jsonl.zst", "pool.parquet"):
        (pool / name).write_bytes((DATA / name).read_bytes())
    bom = pool / "bom.jsonl"  # a plain shard with a byte order mark and blank lines, cut into spans
    bom.write_bytes(codecs.BOM_UTF8 + (DATA / "pool.jsonl").read_bytes().replace(b"\n", b"\n\n", 3))
    copied = {"n": 0}
    write_lines = JsonlWriter.write_lines

    def counted(self, *a, **k):
        copied["n"] += 1
        return write_lines(self, *a, **k)

    monkeypatch.setattr(JsonlWriter, "write_lines", counted)
    new = invoke("select", pool, *args, "-o", tmp_path / "new")
    assert new.exit_code == 0, new.stderr
    assert copied["n"] > 0 and new.stdout == ""
    copied["n"] = 0
    single = invoke("select", pool / "pool.jsonl.zst", pool / "bom.jsonl", *args, "-o", tmp_path / "new.jsonl.zst")
    assert single.exit_code == 0, single.stderr
    assert copied["n"] > 0  # the shards joined into one stream are copied too
    monkeypatch.setattr(writeback, "copies_lines", lambda *a: False)
    copied["n"] = 0
    old = invoke("select", pool, *args, "-o", tmp_path / "old")
    assert old.exit_code == 0, old.stderr
    old_single = invoke("select", pool / "pool.jsonl.zst", pool / "bom.jsonl", *args, "-o",
                        tmp_path / "old.jsonl.zst")
    assert old_single.exit_code == 0, old_single.stderr
    assert copied["n"] == 0
    assert _outputs(tmp_path / "new") == _outputs(tmp_path / "old")
    assert (tmp_path / "new.jsonl.zst").read_bytes() == (tmp_path / "old.jsonl.zst").read_bytes()
    shards = [[{k: v for k, v in entry.items() if k != "output"} for entry in
               json.loads((tmp_path / run / "manifest.json").read_text())["shards"]] for run in ("new", "old")]
    assert shards[0] == shards[1] and all(entry["text_bytes_in"] > 0 for entry in shards[0])


def test_select_to_stdout_is_unchanged(invoke, monkeypatch):
    args = ["select", DATA / "pool.jsonl.gz", "--method", "length", "--top-k", "5", "--annotate"]
    new = invoke(*args)
    monkeypatch.setattr(writeback, "copies_lines", lambda *a: False)
    old = invoke(*args)
    assert new.exit_code == old.exit_code == 0
    assert new.stdout == old.stdout and len(new.stdout.splitlines()) == 5


def test_dedupe_writes_the_same_bytes_as_before(invoke, tmp_path, monkeypatch):
    new = invoke("dedupe", DATA / "pool.jsonl", DATA / "pool.jsonl.zst", "-o", tmp_path / "new")
    monkeypatch.setattr(writeback, "copies_lines", lambda *a: False)
    old = invoke("dedupe", DATA / "pool.jsonl", DATA / "pool.jsonl.zst", "-o", tmp_path / "old")
    assert new.exit_code == old.exit_code == 0, new.stderr + old.stderr
    assert _outputs(tmp_path / "new") == _outputs(tmp_path / "old")
    assert _outputs(tmp_path / "new")  # something was written


def test_a_clash_on_a_dropped_record_is_one_error_line(invoke, tmp_path):
    lines = [json.dumps({"id": i, "text": f"document number {i} " * (i + 1)}) for i in range(12)]
    lines[0] = json.dumps({"id": 0, "text": "short", "rank": 3})  # the shortest: dropped by --top-k
    src = tmp_path / "pool.jsonl"
    src.write_text("\n".join(lines) + "\n")
    res = invoke("select", src, "--method", "length", "--top-k", "3", "--annotate", "-o", tmp_path / "out")
    assert res.exit_code == 2  # a usage error, as on the parsing path: --annotate asks to overwrite a field
    assert "already have a field 'rank'" in one_error_line(res.stderr)


def test_select_in_worker_processes_writes_the_same_bytes(invoke, tmp_path, monkeypatch):
    """Each shard's reader counters travel with its write task to a worker."""
    args = ["select", DATA / "pool.jsonl", DATA / "pool.jsonl.zst", "--method", "random", "--top-k", "11"]
    new = invoke(*args, "-j", "2", "-o", tmp_path / "new")
    monkeypatch.setattr(writeback, "copies_lines", lambda *a: False)
    old = invoke(*args, "-o", tmp_path / "old")
    assert new.exit_code == old.exit_code == 0, new.stderr + old.stderr
    assert _outputs(tmp_path / "new") == _outputs(tmp_path / "old") and len(_outputs(tmp_path / "new")) == 2
