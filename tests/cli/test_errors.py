"""Every bad-input path: one message on stderr naming the file, line and fix, the right exit code, no traceback."""

from __future__ import annotations

import gzip
import json

import pytest
import zstandard

from sievekit.errors import InputError
from sievekit.io import ReadOptions
from sievekit.io.streams import iter_decoded_chunks


def assert_clean_error(res, code: int, *needles: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stdout == ""
    for needle in needles:
        assert needle in res.stderr, res.stderr


def write_lines(path, *lines: str) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_malformed_json_names_file_and_line(invoke, tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", '{"text": "a"}', "", '{"text": "b"', '{"text": "c"}')
    res = invoke("select", path, "--method", "length", "--top-k", "1")
    assert_clean_error(res, 1, f"{path}:3: malformed JSON", "Hint:", "--on-bad-record skip")


def test_missing_text_field_lists_the_keys(invoke, tmp_path):
    path = write_lines(tmp_path / "k.jsonl", '{"content": "a", "url": "u"}')
    res = invoke("report", path)
    assert_clean_error(res, 1, f'{path}:1: no "text" field (keys: content, url)', "pass --text-field content")


def test_text_field_option_fixes_it(invoke, tmp_path):
    path = write_lines(tmp_path / "k.jsonl", '{"content": "a", "url": "u"}')
    res = invoke("report", path, "--text-field", "content", "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["total"]["rows"] == 1


def test_non_string_text(invoke, tmp_path):
    path = write_lines(tmp_path / "n.jsonl", '{"text": "ok"}', '{"text": 42}')
    res = invoke("report", path)
    assert_clean_error(res, 1, f'{path}:2: field "text" is a number, not a string')


def test_record_that_is_not_an_object(invoke, tmp_path):
    path = write_lines(tmp_path / "l.jsonl", '["text", "x"]')
    assert_clean_error(invoke("report", path), 1, f"{path}:1: a record must be a JSON object")


def test_skip_counts_bad_records_in_the_manifest(invoke, tmp_path):
    path = write_lines(tmp_path / "m.jsonl", '{"text": "a"}', "{oops", '{"text": 3}', '{"x": 1}', '{"text": "b"}')
    out = tmp_path / "out"
    res = invoke("select", path, "--method", "length", "--fraction", "1", "--on-bad-record", "skip", "-o", out)
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["shards"][0]["skipped"] == {"malformed_json": 1, "non_string_text": 1, "missing_text": 1}
    assert [json.loads(x)["text"] for x in (out / "m.jsonl").read_text().splitlines()] == ["a", "b"]


@pytest.mark.parametrize("suffix,compress", [(".jsonl.gz", gzip.compress),
                                             (".jsonl.zst", zstandard.ZstdCompressor().compress)])
def test_truncated_stream_is_an_error(invoke, tmp_path, data_dir, suffix, compress):
    whole = compress((data_dir / "pool.jsonl").read_bytes())
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole[: len(whole) // 2])
    codec = "gzip" if suffix.endswith("gz") else "zstd"
    assert_clean_error(invoke("report", path), 1, f"{path}: truncated {codec} stream", "Hint:")


def test_truncated_stream_under_skip_keeps_complete_lines(invoke, tmp_path, data_dir):
    whole = gzip.compress((data_dir / "pool.jsonl").read_bytes())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    res = invoke("report", path, "--on-bad-record", "skip", "--json")
    assert res.exit_code == 0
    report = json.loads(res.stdout)
    assert report["total"]["skipped"].get("truncated_stream") == 1
    assert 0 < report["total"]["rows"] < 20
    assert "Warning:" in res.stderr and "truncated gzip stream" in res.stderr


def test_corrupt_zstd_is_an_error(invoke, tmp_path):
    path = tmp_path / "junk.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\xff" * 64)
    assert_clean_error(invoke("report", path), 1, f"{path}: corrupt zstd stream")


def test_unreadable_file_is_an_input_error(tmp_path):
    (tmp_path / "dir.jsonl").mkdir()  # opening a directory fails whatever our privileges
    with pytest.raises(InputError, match="cannot open"):
        list(iter_decoded_chunks(str(tmp_path / "dir.jsonl")))


def test_missing_path(invoke, tmp_path):
    assert_clean_error(invoke("report", tmp_path / "nope.jsonl"), 1, "nope.jsonl: no such file or directory")


def test_glob_matching_nothing(invoke, tmp_path):
    assert_clean_error(invoke("report", str(tmp_path / "*.jsonl")), 1, "the pattern matches no shard")


def test_directory_without_shards(invoke, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert_clean_error(invoke("report", tmp_path), 1, "the directory holds no shard")


def test_no_inputs_at_all(invoke):
    assert_clean_error(invoke("report"), 2, "no inputs given")


def test_unknown_suffix(invoke, tmp_path):
    (tmp_path / "a.txt").write_text("{}")
    assert_clean_error(invoke("report", tmp_path / "a.txt"), 1, "unknown shard format")


def test_empty_target_set(invoke, tmp_path, data_dir):
    (tmp_path / "t.jsonl").write_text("\n")
    res = invoke("select", data_dir / "pool.jsonl", "--method", "length", "--top-k", "1", "--target",
                 tmp_path / "t.jsonl")
    assert_clean_error(res, 1, "the target set holds no documents")


def test_parquet_from_stdin_is_refused(invoke, data_dir):
    # stdin is JSONL only: Parquet bytes on stdin are not valid JSON lines.
    res = invoke("report", "-", input=(data_dir / "pool.parquet").read_bytes())
    assert res.exit_code == 1
    assert "Traceback" not in res.stderr


def test_parquet_without_text_column(invoke, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"], "n": [1]}), tmp_path / "p.parquet")
    assert_clean_error(invoke("report", tmp_path / "p.parquet"), 1, 'no "text" column (columns: body, n)',
                       "pass --text-field body")


def test_parquet_null_text_names_the_row(invoke, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", None, "c"]}), tmp_path / "p.parquet")
    assert_clean_error(invoke("report", tmp_path / "p.parquet"), 1, f"{tmp_path / 'p.parquet'}: row 1:")


@pytest.mark.parametrize("args,needle", [
    (["--method", "length"], "give exactly one of"),
    (["--method", "length", "--top-k", "1", "--fraction", "0.5"], "give exactly one of"),
    (["--method", "nope", "--top-k", "1"], "unknown method 'nope'; available:"),
    (["--method", "random", "--top-k", "1", "--bogus", "3"], "no chosen method has an option --bogus"),
    (["--method", "random", "--top-k", "1", "--seed", "x"], "Invalid value"),
    (["--fraction", "1.5"], "Invalid value"),
    (["--method", "random", "--top-k", "1", "--compression", "lzma"], "Invalid value for '--compression'"),
])
def test_usage_errors_exit_2(invoke, data_dir, args, needle):
    res = invoke("select", data_dir / "pool.jsonl", *args)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_output_over_input_is_refused(invoke, tmp_path, data_dir):
    path = tmp_path / "pool.jsonl"
    path.write_bytes((data_dir / "pool.jsonl").read_bytes())
    res = invoke("select", path, "--method", "length", "--top-k", "1", "-o", tmp_path)
    assert_clean_error(res, 2, "would overwrite an input")


def test_read_options_validate():
    with pytest.raises(ValueError, match="batch_size"):
        ReadOptions(batch_size=0)


def test_error_in_a_worker_process_keeps_its_message(invoke, tmp_path, data_dir):
    good = tmp_path / "a.jsonl"
    good.write_bytes((data_dir / "pool.jsonl").read_bytes())
    bad = write_lines(tmp_path / "b.jsonl", '{"text": "a"}', '{"text": 1}')
    res = invoke("score", good, bad, "--method", "length", "-j", "2")
    assert_clean_error(res, 1, f'{bad}:2: field "text" is a number, not a string')


def test_errors_survive_pickling():
    import pickle

    from sievekit.errors import BadRecordError

    err = BadRecordError("p.jsonl", "bad", kind="malformed_json", line=3, hint="fix it")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.message, back.hint, back.kind, back.line) == (BadRecordError, err.message, "fix it",
                                                                          "malformed_json", 3)
