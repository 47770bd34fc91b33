"""Hostile inputs and failing disks: each becomes one sievekit error naming the file (and the line or row) and
the fix, never a traceback; nothing is left under a final name or as a temporary."""

from __future__ import annotations

import builtins
import errno
import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sievekit.errors import (
    BadRecordError,
    ConfigError,
    InputError,
    MissingDependencyError,
    ShardError,
    SievekitError,
)
from sievekit.io import ReadOptions, ShardStats, atomic_path, fs, iter_batches, open_output, open_writer
from sievekit.io.jsonl import MAX_DEPTH, loads
from sievekit.io.shards import Shard, resolve_inputs
from sievekit.io.spool import readable_twice

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def read(path: Path | str, policy: str = "fail", **kw) -> tuple[list[dict], ShardStats]:
    stats = ShardStats()
    shard = resolve_inputs([str(path)])[0]
    records = [r for b in iter_batches(shard, ReadOptions(on_bad_record=policy, **kw), stats) for r in b.records()]
    return records, stats


def one_line(exc: SievekitError, *names: str) -> str:
    text = str(exc)
    assert "\n" not in text and "\r" not in text, text
    for name in names:
        assert name in text, (name, text)
    return text


def write_parquet(path: Path, rows: int = 50, group: int = 10) -> None:
    pq.write_table(pa.table({"id": list(range(rows)), "text": [f"text {i} " * 20 for i in range(rows)]}), path,
                   row_group_size=group)


# -- broken Parquet ------------------------------------------------------------------------------------------
def _good_parquet(tmp_path: Path) -> bytes:
    write_parquet(tmp_path / "good.parquet")
    return (tmp_path / "good.parquet").read_bytes()


BROKEN_PARQUET = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "not_parquet": lambda good: b'{"text": "I am JSON"}\n',
    "bad_footer": lambda good: good[:-12] + b"\xff" * 8 + b"PAR1",
    "footer_length_too_big": lambda good: good[:-8] + (10**6).to_bytes(4, "little") + b"PAR1",
}


@pytest.mark.parametrize("policy", ["fail", "skip"])
@pytest.mark.parametrize("kind", sorted(BROKEN_PARQUET))
def test_broken_parquet_is_one_input_error(tmp_path, kind, policy):
    bad = tmp_path / f"{kind}.parquet"
    bad.write_bytes(BROKEN_PARQUET[kind](_good_parquet(tmp_path)))
    with pytest.raises(InputError) as err:
        read(bad, policy)
    assert not isinstance(err.value, BadRecordError)  # a whole file is broken, not one record
    one_line(err.value, str(bad), "Parquet")
    assert err.value.hint


def test_broken_parquet_as_the_template_of_an_output_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    shard = Shard(0, str(bad), "bad.parquet", "parquet")
    with pytest.raises(InputError) as err, open_writer(str(tmp_path / "out" / "bad.parquet"), shard):
        pass
    one_line(err.value, str(bad))
    assert not (tmp_path / "out").exists()


def test_parquet_damaged_in_the_middle_fails_while_iterating(tmp_path):
    path = tmp_path / "mid.parquet"
    write_parquet(path, rows=400, group=100)
    data = bytearray(path.read_bytes())
    meta = pq.ParquetFile(path).metadata
    start = meta.row_group(2).column(1).data_page_offset  # the text pages of the third row group
    data[start:start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    seen = []
    with pytest.raises(InputError) as err:
        for batch in iter_batches(resolve_inputs([str(path)])[0], ReadOptions(batch_size=100)):
            seen.append(len(batch))
    assert seen == [100, 100]  # the groups before the damage were read
    one_line(err.value, str(path))


def _invalid_utf8_parquet(path: Path) -> None:
    texts = pa.array([b"fine", b"bad \xed\xa0\x80 surrogate", b"also fine", b"\xff"], type=pa.binary())
    other = pa.array([b"ok", b"ok", b"bad \xc3", b"ok"], type=pa.binary())
    pq.write_table(pa.table({"id": [0, 1, 2, 3], "text": texts.view(pa.string()), "note": other.view(pa.string())}),
                   path)


def test_parquet_invalid_utf8_is_a_bad_record(tmp_path):
    path = tmp_path / "utf.parquet"
    _invalid_utf8_parquet(path)
    with pytest.raises(BadRecordError) as err:
        read(path)
    assert err.value.kind == "invalid_utf8" and err.value.line == 1
    one_line(err.value, str(path), "row 1")


def test_parquet_invalid_utf8_is_skipped_and_never_written(tmp_path):
    path = tmp_path / "utf.parquet"
    _invalid_utf8_parquet(path)
    records, stats = read(path, "skip")
    assert [r["id"] for r in records] == [0]  # rows 1 and 3 have a bad text, row 2 a bad other field
    assert stats.skipped["invalid_utf8"] == 3
    shard = resolve_inputs([str(path)])[0]
    out = tmp_path / "out" / "utf.parquet"
    with open_writer(str(out), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(on_bad_record="skip")):
            writer.write(batch)
    pq.read_table(out).validate(full=True)
    assert pq.read_table(out).column("id").to_pylist() == [0]


# -- hostile JSON --------------------------------------------------------------------------------------------
def _jsonl(tmp_path: Path, *lines: bytes, name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


DEEP = b'{"text": "deep", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
DEEP_FALLBACK = b'{"text": "deep", "x": ' + b"[" * 1100 + b"NaN" + b"]" * 1100 + b"}"  # orjson refuses NaN


@pytest.mark.parametrize("deep", [DEEP, DEEP_FALLBACK], ids=["10000_levels", "1100_levels_with_nan"])
def test_deep_json_is_a_bad_record(tmp_path, deep):
    path = _jsonl(tmp_path, b'{"text": "ok"}', deep, b'{"text": "ok too"}')
    with pytest.raises(BadRecordError) as err:
        read(path)
    assert err.value.kind == "too_deep" and err.value.line == 2
    one_line(err.value, f"{path}:2", str(MAX_DEPTH))
    records, stats = read(path, "skip")
    assert [r["text"] for r in records] == ["ok", "ok too"]
    assert stats.skipped == {"too_deep": 1}


def test_nesting_within_the_bound_is_read(tmp_path):
    nested = b'{"text": "nested", "x": ' + b"[" * 500 + b"]" * 500 + b', "n": NaN}'  # the fallback parser
    records, _ = read(_jsonl(tmp_path, nested))
    assert records[0]["text"] == "nested"


def test_a_record_too_deep_to_write_back_is_a_shard_error(tmp_path):
    deep = b'{"text": "deep", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"  # orjson reads it; json cannot write it
    shard = resolve_inputs([str(_jsonl(tmp_path, deep))])[0]
    out = tmp_path / "out.jsonl"
    with pytest.raises(ShardError) as err, open_writer(str(out), shard) as writer:
        for batch in iter_batches(shard, ReadOptions()):
            writer.write(batch, None, {"score": [1.0]})
    one_line(err.value, f"{tmp_path / 'in.jsonl'}: record 0", "nested too deeply")
    assert not out.exists() and list(tmp_path.glob(".out.jsonl.tmp-*")) == []


LONE_SURROGATES = {
    "escape_in_text": b'{"text": "a\\ud800b"}',
    "low_escape_in_text": b'{"text": "a\\udfffb"}',
    "raw_bytes_in_text": b'{"text": "a\xed\xa0\x80b"}',
    "escape_in_key": b'{"text": "ok", "k\\udc00": 1}',
    "escape_in_nested_value": b'{"text": "ok", "m": {"a": ["\\ud83d"]}}',
    "raw_bytes_in_other_field": b'{"text": "ok", "m": "\xed\xb0\x80"}',
    "invalid_byte": b'{"text": "a\xffb"}',
}


@pytest.mark.parametrize("kind", sorted(LONE_SURROGATES))
def test_invalid_utf8_and_lone_surrogates_are_bad_records(tmp_path, kind):
    path = _jsonl(tmp_path, b'{"text": "first"}', LONE_SURROGATES[kind], b'{"text": "last \\ud83d\\ude00"}')
    with pytest.raises(BadRecordError) as err:
        read(path)
    assert err.value.kind == "invalid_utf8" and err.value.line == 2
    one_line(err.value, f"{path}:2")
    records, stats = read(path, "skip")
    assert [r["text"] for r in records] == ["first", "last \U0001f600"]  # a surrogate *pair* is a character
    assert stats.skipped == {"invalid_utf8": 1}


@pytest.mark.parametrize("extra", [None, {"score": [0.5, 0.25]}], ids=["copied", "rebuilt"])
def test_lone_surrogates_never_reach_an_output(tmp_path, extra):
    path = _jsonl(tmp_path, b'{"text": "first"}', LONE_SURROGATES["escape_in_text"],
                  LONE_SURROGATES["raw_bytes_in_text"], b'{"text": "last"}')
    shard = resolve_inputs([str(path)])[0]
    out = tmp_path / "out.jsonl"
    with open_writer(str(out), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(on_bad_record="skip")):
            writer.write(batch, None, extra)
    lines = out.read_bytes().decode("utf-8").splitlines()  # strict UTF-8
    assert [json.loads(line)["text"] for line in lines] == ["first", "last"]


def test_loads_holds_the_fallback_parser_to_the_same_rules():
    assert loads(b'{"n": NaN, "s": "\\ud83d\\ude00"}')["s"] == "\U0001f600"
    for bad in (b'{"n": NaN, "s": "\\ud800"}', b'{"n": NaN, "s": "\xed\xa0\x80"}',
                b"[" * (MAX_DEPTH + 1) + b"NaN" + b"]" * (MAX_DEPTH + 1)):
        with pytest.raises(ValueError):
            loads(bad)


# -- data that is not what its name says ---------------------------------------------------------------------
def test_compressed_bytes_under_a_plain_name_are_named(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    for policy in ("fail", "skip"):
        with pytest.raises(InputError) as err:
            read(path, policy)
        one_line(err.value, str(path), "gzip", "x.jsonl.gz")


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))


def test_parquet_on_stdin_is_called_parquet(tmp_path, monkeypatch):
    _stdin(monkeypatch, _good_parquet(tmp_path))
    with pytest.raises(InputError) as err:
        list(iter_batches(resolve_inputs(["-"])[0], ReadOptions()))
    text = one_line(err.value, "<stdin>", "Parquet")
    assert "malformed" not in text


def test_parquet_on_spooled_stdin_is_called_parquet_and_names_stdin(tmp_path, monkeypatch):
    _stdin(monkeypatch, _good_parquet(tmp_path))
    with readable_twice(["-"], ReadOptions()) as shards, pytest.raises(InputError) as err:
        list(iter_batches(shards[0], ReadOptions()))
    text = one_line(err.value, "<stdin>", "Parquet")
    assert "sievekit-stdin-" not in text  # not the spool file, which is gone by the time anyone reads this


# -- input directories ---------------------------------------------------------------------------------------
@pytest.fixture
def pool(tmp_path) -> Path:
    root = tmp_path / "pool"
    (root / "sub").mkdir(parents=True)
    (root / "a.jsonl").write_text('{"text": "a"}\n')
    (root / "sub" / "b.jsonl").write_text('{"text": "b"}\n')
    return root


def test_a_symlink_loop_to_a_parent_folder_is_an_input_error(pool):
    (pool / "sub" / "loop").symlink_to(pool, target_is_directory=True)
    with pytest.raises(InputError) as err:
        resolve_inputs([str(pool)])
    one_line(err.value, str(pool / "sub" / "loop"), "symlink loop")


def test_a_self_referencing_symlink_is_an_input_error(pool):
    (pool / "self.jsonl").symlink_to("self.jsonl")
    with pytest.raises(InputError) as err:
        resolve_inputs([str(pool)])
    one_line(err.value, str(pool / "self.jsonl"), "symlink loop")


def test_a_dangling_symlink_is_an_input_error(pool):
    (pool / "gone.jsonl").symlink_to(pool / "nowhere.jsonl")
    with pytest.raises(InputError) as err:
        resolve_inputs([str(pool)])
    one_line(err.value, str(pool / "gone.jsonl"), "dangling", "nowhere.jsonl")


def test_hidden_broken_links_are_ignored_and_linked_folders_are_read_once(pool, tmp_path):
    (pool / ".#lock").symlink_to("nowhere")  # an editor's lock file: hidden, never a shard
    (pool / "again").symlink_to(pool / "sub", target_is_directory=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.jsonl").write_text('{"text": "c"}\n')
    (pool / "linked").symlink_to(other, target_is_directory=True)
    assert [s.name for s in resolve_inputs([str(pool)])] == ["a.jsonl", "linked/c.jsonl", "sub/b.jsonl"]


def test_an_unreadable_subfolder_is_an_input_error(pool, monkeypatch):
    locked = str(pool / "sub")
    real_scandir = os.scandir

    def scandir(path):  # root reads any folder, so the refusal is simulated where the walk lists it
        if os.fspath(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError) as err:
        resolve_inputs([str(pool)])
    one_line(err.value, locked, "Permission denied")


@pytest.mark.skipif(IS_ROOT, reason="root reads any folder")
def test_an_unreadable_subfolder_is_an_input_error_for_real(pool):
    (pool / "sub").chmod(0)
    try:
        with pytest.raises(InputError) as err:
            resolve_inputs([str(pool)])
        one_line(err.value, str(pool / "sub"))
    finally:
        (pool / "sub").chmod(0o755)


# -- failing disks -------------------------------------------------------------------------------------------
DISK_ERRORS = {
    "full": (errno.ENOSPC, "No space left on device"),
    "read_only": (errno.EROFS, "Read-only file system"),
    "permission": (errno.EACCES, "Permission denied"),
    "immutable": (errno.EPERM, "Operation not permitted"),
}


def _jsonl_shard(tmp_path: Path) -> Shard:
    src = _jsonl(tmp_path, *[json.dumps({"id": i, "text": f"t{i}"}).encode() for i in range(30)], name="src.jsonl")
    return resolve_inputs([str(src)])[0]


def _parquet_shard(tmp_path: Path) -> Shard:
    write_parquet(tmp_path / "src.parquet")
    return resolve_inputs([str(tmp_path / "src.parquet")])[0]


def _write_all(target: Path, shard: Shard) -> None:
    with open_writer(str(target), shard) as writer:
        for batch in iter_batches(shard, ReadOptions(batch_size=7)):
            writer.write(batch)


def _fail_at(monkeypatch, stage: str, code: int, message: str) -> None:
    def boom(*args, **kwargs):
        raise OSError(code, message)

    if stage == "open":
        real_open = fs.open

        def failing_open(path, mode="rb"):
            if "w" in mode:
                raise OSError(code, message, path)
            return real_open(path, mode)

        monkeypatch.setattr(fs, "open", failing_open)
    elif stage == "write":
        real_open = fs.open

        def full_open(path, mode="rb"):
            if "w" in mode:
                return builtins.open("/dev/full", mode)  # the kernel's own full disk: every write fails
            return real_open(path, mode)

        monkeypatch.setattr(fs, "open", full_open)
    else:
        monkeypatch.setattr(os, "replace", boom)


# /dev/full fails every write as a full disk does; the other errors are raised where the system raises them.
FAILURES = [("write", "full")] + [(stage, disk) for stage in ("open", "rename") for disk in sorted(DISK_ERRORS)]


@pytest.mark.parametrize(("stage", "disk"), FAILURES)
@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz", "out.jsonl.zst", "src.parquet"])
def test_a_failing_disk_is_one_shard_error_and_leaves_nothing(tmp_path, monkeypatch, stage, disk, name):
    shard = _parquet_shard(tmp_path) if name.endswith(".parquet") else _jsonl_shard(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / name
    _fail_at(monkeypatch, stage, *DISK_ERRORS[disk])
    with pytest.raises(ShardError) as err:
        _write_all(target, shard)
    monkeypatch.undo()
    text = one_line(err.value, str(target))
    assert "tmp-" not in text and err.value.hint
    assert list(out_dir.iterdir()) == []


def test_a_failing_disk_in_atomic_path_is_a_shard_error(tmp_path):
    target = tmp_path / "state.json"
    with pytest.raises(ShardError) as err, atomic_path(target) as tmp:
        tmp.write_text("{}")
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    one_line(err.value, str(target), "No space left")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_shard_error_for_real(tmp_path):
    shard = _jsonl_shard(tmp_path)
    out_dir = tmp_path / "ro"
    out_dir.mkdir()
    out_dir.chmod(0o555)
    try:
        with pytest.raises(ShardError) as err:
            _write_all(out_dir / "out.jsonl", shard)
        one_line(err.value, str(out_dir / "out.jsonl"))
    finally:
        out_dir.chmod(0o755)


def test_a_full_stdout_is_a_shard_error(monkeypatch):
    with builtins.open("/dev/full", "wb") as full:
        monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=full))
        with pytest.raises(ShardError) as err, open_output("-") as enc:
            enc.write(b'{"text": "x"}\n' * 10)
    one_line(err.value, "<stdout>", "No space left")


_NONBLOCKING = """
import os, sys
os.set_blocking(1, False)  # as another process in the pipeline may leave a shared pipe
from sievekit.io import open_output
from sievekit.io.spool import copy_to_stdout
codec = sys.argv[1]
if codec == "copy":
    with open(sys.argv[2], "wb") as fh:
        fh.write(b"y" * 1_999_999 + b"\\n")
    copy_to_stdout([sys.argv[2], sys.argv[2]])
else:
    with open_output("-", codec) as enc:
        for i in range(60):
            enc.write(os.urandom(30_000).hex().encode()[:59_999] + b"\\n")
print("wrote", file=sys.stderr)
"""


@pytest.mark.parametrize("codec", ["none", "zstd", "copy"])
def test_a_non_blocking_stdout_gets_every_byte(tmp_path, codec):
    proc = subprocess.Popen([sys.executable, "-c", _NONBLOCKING, codec, str(tmp_path / "part")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)  # nobody reads: the pipe fills and the writer must wait, not drop what is left
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    if codec == "zstd":
        import zstandard

        out = zstandard.ZstdDecompressor().decompressobj().decompress(out)
    assert len(out) == (4_000_000 if codec == "copy" else 3_600_000)


# -- an output name that contradicts its codec ---------------------------------------------------------------
@pytest.mark.parametrize(("name", "codec"), [("x.jsonl", "gzip"), ("x.jsonl", "zstd"), ("x.jsonl.gz", "zstd"),
                                             ("x.jsonl.zst", "none"), ("x.jsonl.gz", "none")])
def test_an_output_name_contradicting_its_codec_is_refused(tmp_path, name, codec):
    target = tmp_path / "out" / name
    with pytest.raises(ConfigError) as err, open_output(str(target), codec):
        pass
    assert err.value.exit_code == 2
    one_line(err.value, str(target), codec)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError), open_writer(str(target), _jsonl_shard(tmp_path), codec):
        pass


@pytest.mark.parametrize(("name", "codec"), [("-", "gzip"), ("x.jsonl.gz", "gzip"), ("x.jsonl", "none"),
                                             ("x.jsonl.zstd", "zstd"), ("x.jsonl", None), ("x.jsonl.gz", "infer")])
def test_an_output_name_agreeing_with_its_codec_is_written(tmp_path, monkeypatch, name, codec):
    sink = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=sink))
    target = name if name == "-" else str(tmp_path / name)
    with open_output(target, codec) as enc:
        enc.write(b'{"text": "x"}\n')
    written = sink.getvalue() if name == "-" else Path(target).read_bytes()
    used = codec if codec not in (None, "infer") else "gzip" if name.endswith(".gz") else "none"
    assert written.startswith({"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd", "none": b"{"}[used])


# -- URLs whose filesystem is missing ------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "package"), [("s3://bucket/pool", "s3fs"), ("gs://bucket/pool", "gcsfs")])
def test_a_url_without_its_filesystem_package_is_one_error(url, package):
    pytest.importorskip("fsspec")
    try:
        __import__(package)
        pytest.skip(f"{package} is installed")
    except ImportError:
        pass
    with pytest.raises(MissingDependencyError) as err:
        resolve_inputs([url])
    assert one_line(err.value, url, package) and err.value.hint == f"pip install {package}"


def test_a_url_of_an_unknown_scheme_is_an_input_error():
    pytest.importorskip("fsspec")
    with pytest.raises(InputError) as err:
        resolve_inputs(["nosuch://bucket/pool"])
    one_line(err.value, "nosuch://bucket/pool", "Protocol not known")


def test_a_bad_line_on_spooled_stdin_names_stdin_and_the_line(monkeypatch):
    _stdin(monkeypatch, b'{"text": "a"}\n{"text": \n')
    with readable_twice(["-"], ReadOptions()) as shards, pytest.raises(BadRecordError) as err:
        list(iter_batches(shards[0], ReadOptions()))
    assert one_line(err.value, "<stdin>:2").startswith("<stdin>:2:")


def test_a_file_name_with_pattern_characters_is_read_as_written(tmp_path: Path) -> None:
    odd = tmp_path / "run[1].jsonl"
    odd.write_text('{"text": "a"}\n')
    (tmp_path / "run1.jsonl").write_text('{"text": "b"}\n')  # what the pattern run[1].jsonl would match
    assert [s.name for s in resolve_inputs([str(odd)])] == ["run[1].jsonl"]
    assert [s.name for s in resolve_inputs([str(tmp_path / "run[0-9].jsonl")])] == ["run1.jsonl"]
