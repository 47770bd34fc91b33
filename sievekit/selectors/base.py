"""The Selector contract: fit on a target (and, where needed, a pool sample), score texts in batches.

One abstract method, ``score_batch``; everything else derives from it. Scores are float64 and higher
means "keep"; ``-inf`` means "never select" (a selector's own eligibility rule, e.g. a minimum length).
A selector's parameters are a frozen dataclass ``Config``; its fitted state round-trips through a
JSON-safe dict (``state_dict``/``from_state_dict``), never pickle, which is also how worker processes
receive it.
"""

from __future__ import annotations

import base64
import dataclasses
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

from sievekit.errors import ConfigError

STATE_FORMAT_VERSION = 1  # of state_dict(): bump when its keys change meaning


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """A selector without parameters."""


class Selector(ABC):
    """Scores documents by how well they match what the selector was fitted on.

    Class attributes:
        name: the registry key users type (``--method NAME``).
        algorithm: a versioned id saved with the state; a changed algorithm gets a new suffix.
        Config: the frozen dataclass of parameters (each field documented in its docstring).
        needs_target: whether ``fit`` requires target texts.
        needs_raw: whether ``fit`` reads a sample of the pool (the ``raw`` argument).

    Example:
        >>> from sievekit.selectors import get_selector
        >>> sel = get_selector("length")()
        >>> sel.score_batch(["abc", "a"]).tolist()
        [3.0, 1.0]
    """

    name: ClassVar[str]
    algorithm: ClassVar[str]
    Config: ClassVar[type[Any]] = NoConfig
    needs_target: ClassVar[bool] = True
    needs_raw: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    def fit(self, target: Iterable[str], raw: Iterable[str] | None = None) -> Self:
        """Learn from the target texts (and a stream of pool texts, read as far as needed)."""
        return self

    @abstractmethod
    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """One float64 score per text, higher is better, ``-inf`` for never-select."""

    def score(self, text: str) -> float:
        return float(self.score_batch([text])[0])

    def score_iter(self, texts: Iterable[str], batch_size: int = 1024) -> Iterator[float]:
        it = iter(texts)
        while batch := list(islice(it, batch_size)):
            yield from self.score_batch(batch).tolist()

    # -- state ---------------------------------------------------------------------------------
    def fitted_state(self) -> dict[str, Any]:
        """JSON-safe fitted state (override in selectors that learn something)."""
        return {}

    def load_fitted_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``fitted_state`` returned."""

    def state_dict(self) -> dict[str, Any]:
        from sievekit.version import __version__

        return {
            "format_version": STATE_FORMAT_VERSION,
            "name": self.name,
            "algorithm": self.algorithm,
            "sievekit_version": __version__,
            "config": dataclasses.asdict(self.config),
            "state": self.fitted_state(),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Self:
        from sievekit.version import __version__

        if state.get("format_version", STATE_FORMAT_VERSION) != STATE_FORMAT_VERSION:
            raise ConfigError(f"saved state has format version {state.get('format_version')!r}, this sievekit reads "
                              f"{STATE_FORMAT_VERSION}", hint="re-fit with this version of sievekit")
        if state.get("algorithm") != cls.algorithm:
            raise ConfigError(
                f"saved state is for {state.get('algorithm')!r}, not {cls.algorithm!r}",
                hint="re-fit with this version of the selector",
            )
        if state.get("sievekit_version") != __version__:
            warnings.warn(
                f"state was saved by sievekit {state.get('sievekit_version')}, this is {__version__}", stacklevel=2
            )
        obj = cls(cls.Config(**state.get("config", {})))
        obj.load_fitted_state(state.get("state", {}))
        return obj


def encode_array(array: npt.NDArray[Any]) -> dict[str, Any]:
    """A numpy array as a JSON-safe dict (dtype, shape, base64 of the little-endian bytes)."""
    arr = np.ascontiguousarray(array)
    data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return {"dtype": arr.dtype.newbyteorder("<").str, "shape": list(arr.shape), "b64": base64.b64encode(data).decode()}


def decode_array(obj: Mapping[str, Any]) -> npt.NDArray[Any]:
    raw = base64.b64decode(obj["b64"])
    return np.frombuffer(raw, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
