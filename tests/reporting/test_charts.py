"""Charts, scales and untrusted text of the report, without the CLI."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sievekit.reporting import pool, stats, svg
from sievekit.reporting.render import fmt, to_html, to_markdown
from sievekit.reporting.untrusted import clean


def test_nice_ticks_are_round_and_cover_the_top():
    assert svg.nice_ticks(57) == [0, 20, 40, 60]
    assert svg.nice_ticks(120) == [0, 25, 50, 75, 100, 125]
    assert svg.nice_ticks(0.93) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(0) == [0.0, 1.0]
    assert svg.log_ticks(1500) == [0, 1, 10, 100, 1000, 10000]


def test_axis_ticks_sit_where_their_values_fall():
    ticks = svg.axis_ticks(0.0, 10.0, 20)  # 20 bins of 0.5
    assert ticks == [(0.0, "0"), (4.0, "2"), (8.0, "4"), (12.0, "6"), (16.0, "8"), (20.0, "10")]
    # symlog with c = 1: position is linear in sign(x)·log10(1 + |x|)
    by_label = {label: pos for pos, label in svg.axis_ticks(-999.0, 999.0, 6, "symlog", 1.0)}
    assert set(by_label) == {"-100", "-10", "-1", "0", "1", "10", "100"}
    assert by_label["0"] == pytest.approx(3.0) and by_label["-100"] == pytest.approx(3 - 3 * np.log10(101) / 3)
    log = svg.axis_ticks(9.0, 99999.0, 4, "log1p")
    assert [label for _, label in log] == ["10", "100", "1000", "10k", "100k"][: len(log)]
    assert log[0][0] == pytest.approx(4 * (np.log10(11) - 1) / (np.log10(100000) - 1))


def test_position_interpolates_within_a_bin():
    assert svg.position([0.0, 1.0, 2.0], 1.5) == 1.5
    assert svg.position([0.0, 1.0], 3.0) is None


def _texts(page: str) -> list[str]:
    return re.findall(r"<text[^>]*>(.*?)</text>", page)


def test_bar_chart_has_axes_titles_ticks_and_hover_names():
    long = "a-shard-name-that-is-far-too-long-for-its-slot.jsonl.zst"
    page = svg.bar_chart([long, "b"], [svg.Series("rows", [120, 30])], title="Documents per shard",
                         x_title="shard", y_title="documents")
    assert 'class="chart-title">Documents per shard<' in page
    assert 'class="axis-title">shard<' in page and 'class="axis-title">documents<' in page
    assert [t for t in _texts(page) if t.endswith(tuple("0123456789"))] == ["0", "25", "50", "75", "100", "125"]
    assert f"<title>{long}</title>a-shard-name-that-is-fa…</text>" in page  # cut; the full name on hover
    assert "rotate(-35" not in page  # two labels fit side by side
    assert "<title>b: rows 30</title>" in page


def test_crowded_labels_are_rotated():
    names = [f"part-{i:04d}.jsonl.zst" for i in range(12)]
    page = svg.bar_chart(names, [svg.Series("rows", [1] * 12)], title="t", x_title="shard", y_title="documents")
    assert page.count("rotate(-35") == 12 and all(f"<title>{n}</title>{n}</text>" in page for n in names)


def test_stacked_histogram_with_a_marker_and_log_axis():
    page = svg.bar_chart(["0 to 1", "1 to 2"], [svg.Series("selected", [1, 5]), svg.Series("not", [9, 0])],
                         title="t", x_title="x", y_title="y", stacked=True, x_ticks=[(0, "0"), (1, "1"), (2, "2")],
                         marker=(1.5, "cut-off 1.5"))
    assert 'class="marker"' in page and "cut-off 1.5" in page and "not" in page
    log = svg.bar_chart(["a", "b"], [svg.Series("n", [1, 5000])], title="t", x_title="x", y_title="y", y_log=True)
    assert ">10k<" in log and ">1000<" in log


def test_chart_text_is_escaped_and_cleaned():
    hostile = "<script>alert(1)</script>\x1b[31m"
    page = svg.bar_chart([hostile], [svg.Series(hostile, [1])], title=hostile, x_title=hostile, y_title="y")
    assert "<script" not in page and "&lt;script&gt;" in page and "\x1b" not in page and "\\x1b[31m" in page


def test_clean_shows_controls_as_escapes():
    assert clean("plain [/] text") == "plain [/] text"
    assert clean("a\x1b[2Jb\nc\td\x07\x9b\u202e") == "a\\x1b[2Jb\\nc\\td\\x07\\x9b\\u202e"
    assert fmt("x\x00") == "x\\x00" and fmt(1234) == "1,234" and fmt(None) == "-"
    assert clean("lone \ud800 surrogate") == "lone \\ud800 surrogate"


def test_tail_scale_and_symlog():
    rng = np.random.default_rng(0)
    assert stats.tail_scale(rng.normal(size=2000)) == "linear"
    assert stats.tail_scale(-rng.lognormal(5, 2, size=2000)) == "symlog"
    assert stats.tail_scale(np.array([1.0, 1.0, 1.0])) == "linear"
    x = np.array([-5000.0, -3.0, 0.0, 0.5, 70.0])
    assert np.allclose(stats.symlog_inverse(stats.symlog(x, 10.0), 10.0), x)


def test_split_histogram_counts_every_finite_value_once():
    rng = np.random.default_rng(1)
    values = np.concatenate([-rng.lognormal(4, 2, size=500), [np.nan, -np.inf]])
    chosen = values > -30
    hist = stats.split_histogram(values, chosen)
    assert hist["scale"] == "symlog" and hist["non_finite"] == 2
    assert sum(hist["selected"]) == int(chosen.sum()) and sum(hist["not_selected"]) == 500 - int(chosen.sum())
    assert hist["edges"][0] == pytest.approx(np.nanmin(values[np.isfinite(values)]))
    assert max(np.add(hist["selected"], hist["not_selected"])) < 250  # no single bar holds half of them


def test_cutoff_by_rule():
    values = np.array([5.0, 1.0, 3.0, -np.inf])
    kept = np.array([True, False, True, False])
    assert pool.cutoff(values, kept, {"kind": "top_k", "value": 2, "stratify": None}) == 3.0
    assert pool.cutoff(values, kept, {"kind": "threshold", "value": 2.5, "stratify": None}) == 2.5
    assert pool.cutoff(values, kept, {"kind": "sample", "value": 2, "stratify": None}) is None
    assert pool.cutoff(values, kept, {"kind": "top_k", "value": 2, "stratify": "length"}) is None


def test_copies_are_matched_as_often_as_the_inputs_hold_them():
    chosen = pool._Multiset(pool.digests(["a", "a", "b"], ["1", "1", None]))
    found = chosen.take(pool.digests(["a", "a", "a", "b", "b", "c"], ["1", "1", "1", None, "2", None]))
    assert found.tolist() == [True, True, False, True, False, False]


def test_markdown_and_html_of_a_minimal_report():
    data = {"format_version": 1, "shards": [{"name": "[/]\x1b", "rows": 1, "bytes": 10, "text_bytes": 5,
                                             "skipped": {}, "fields": {"text": 1}, "text_length": {"count": 1}}],
            "total": {"shards": 1, "rows": 1, "bytes": 10, "text_bytes": 5, "skipped": {}, "fields": {"text": 1},
                      "text_length": {"count": 1}}}
    assert "[/]\\x1b" in to_markdown(data) and "\x1b" not in to_markdown(data)
    page = to_html(data)
    assert page.startswith("<!doctype html>") and "<svg" in page and "\x1b" not in page
