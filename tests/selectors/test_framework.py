"""The selector framework: registry, parameters from the command line, state round trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sievekit.errors import ConfigError
from sievekit.selectors import Selector, available, get_selector, register, unregister
from sievekit.selectors.base import decode_array, encode_array
from sievekit.selectors.params import build_config, split_method_args


def test_builtins_are_registered():
    assert {"random", "length"} <= set(available())


def test_unknown_method_lists_the_available_ones():
    with pytest.raises(ConfigError, match="available: .*length.*random"):
        get_selector("zzz")


def test_register_and_unregister_a_plugin():
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        factor: float = 2.0
        lower: bool = False
        mode: str | None = None

    class Twice(Selector):
        name = "twice-test"
        algorithm = "twice_test_v1"
        Config = Cfg
        needs_target = False

        def score_batch(self, texts):
            return np.array([self.config.factor * len(t) for t in texts], dtype=np.float64)

    register(Twice)
    try:
        cls = get_selector("twice-test")
        cfg = build_config(cls.Config, {"factor": "3", "lower": "yes", "mode": "none"}, "twice-test")
        assert cfg == Cfg(3.0, True, None)
        assert cls(cfg).score_batch(["ab"]).tolist() == [6.0]
        with pytest.raises(ConfigError, match="takes true or false"):
            build_config(cls.Config, {"lower": "maybe"}, "twice-test")
        with pytest.raises(ConfigError, match="takes a value of type float"):
            build_config(cls.Config, {"factor": "x"}, "twice-test")
    finally:
        unregister("twice-test")
    assert "twice-test" not in available()


def test_split_method_args():
    assert split_method_args(["a", "--x", "1", "b", "--y=2", "--no-z", "--w"]) == (
        ["a", "b"], {"x": "1", "y": "2", "z": "false", "w": "true"})


def test_state_round_trip_for_builtins():
    texts = ["alpha", "beta", "", "ünïcode"]
    for name in ("random", "length"):
        sel = get_selector(name)()
        clone = get_selector(name).from_state_dict(sel.state_dict())
        assert clone.score_batch(texts).tolist() == sel.score_batch(texts).tolist()


def test_state_of_another_algorithm_is_refused():
    state = get_selector("length")().state_dict()
    with pytest.raises(ConfigError, match="saved state is for"):
        get_selector("random").from_state_dict(state)


def test_random_scores_are_uniform_seeded_and_batch_independent():
    sel = get_selector("random")(get_selector("random").Config(seed=3))
    texts = [f"doc {i}" for i in range(4000)]
    scores = sel.score_batch(texts)
    assert scores.min() >= 0 and scores.max() < 1 and abs(scores.mean() - 0.5) < 0.02
    assert list(sel.score_iter(texts, batch_size=7)) == scores.tolist()
    other = get_selector("random")(get_selector("random").Config(seed=4)).score_batch(texts)
    assert not np.array_equal(scores, other)


def test_array_codec_round_trip():
    for arr in (np.arange(12, dtype=np.float64).reshape(3, 4), np.array([1, 2], dtype=np.uint32), np.zeros(0)):
        back = decode_array(encode_array(arr))
        assert back.dtype == arr.dtype.newbyteorder("<") and np.array_equal(back, arr)
