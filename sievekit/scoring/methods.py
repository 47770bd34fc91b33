"""Methods by name: building selectors from their options, fitting them, and their fitted state on disk."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sievekit.errors import ConfigError, InputError, option
from sievekit.io import ReadOptions, Shard, fs, iter_texts, resolve_inputs
from sievekit.io.pool import ShardPool
from sievekit.io.streams import STDIO, atomic_output
from sievekit.run.executor import Executor
from sievekit.selectors import Selector, get_selector
from sievekit.selectors.params import build_config


@dataclass(frozen=True)
class MethodSpec:
    """A selector by name with its parameters (strings from the CLI or typed values from TOML)."""

    name: str
    params: Mapping[str, Any]


def route_options(names: Sequence[str], options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Give each method its options: ``method.option`` goes to that method, a plain ``option`` to every
    method that has it.

    Raises:
        ConfigError: an option no chosen method has (the message lists what each method takes).
    """
    routed: dict[str, dict[str, Any]] = {name: {} for name in names}
    fields = {name: {f.name for f in dataclasses.fields(get_selector(name).Config)} for name in names}
    for key, value in options.items():
        method, dot, option = key.rpartition(".")
        option = option.replace("-", "_")
        targets = [method] if dot else [n for n in names if option in fields[n]]
        if dot and method not in routed:
            raise ConfigError(f"--{key}: {method!r} is not one of the chosen methods ({', '.join(names)})")
        if not targets or option not in fields[targets[0]]:
            takes = "; ".join(f"{n}: {', '.join('--' + o.replace('_', '-') for o in sorted(fields[n])) or 'none'}"
                              for n in names)
            raise ConfigError(f"no chosen method has an option --{option.replace('_', '-')} (options: {takes})")
        for target in targets:
            routed[target][option] = value
    return routed


def default_method() -> tuple[str, str | None]:
    """The method used with a target when none is named, and why, if it is not the first choice.

    ``classifier`` ranked best on every task of bench/selection, bench/realistic and
    bench/classifier_vs_selectors.py. Its default fit needs scipy and our compiled solver (numba, the ``fast``
    extra) or, without the solver, scikit-learn; with neither the default is ``zstd-ml``, the best method with
    no extra.
    """
    import importlib.util

    from sievekit.selectors import logreg
    from sievekit.selectors.ngram_jit import ENV

    has = {name: importlib.util.find_spec(name) is not None for name in ("scipy", "sklearn", "numba")}
    if has["scipy"] and (logreg.available() or has["sklearn"]):
        return "classifier", None
    if has["scipy"] and has["numba"]:
        # numba is there but switched off: installing an extra would not help, the switch would
        return "zstd-ml", (f"the classifier's solver is off ({ENV}=0) and scikit-learn, its other fit, is "
                           f"not installed (unset {ENV}, or pip install 'sievekit[classifier]')")
    return "zstd-ml", ("the classifier method needs scipy, and numba or scikit-learn (pip install "
                       "'sievekit[classifier]')")


def make_selectors(specs: Sequence[MethodSpec], seed: int,
                   run_facts: Mapping[str, Any] | None = None) -> list[Selector]:
    """Build each named selector.

    What the run knows fills the parameters of the same name that were not given: ``seed`` from the
    run's seed, and ``run_facts`` such as the selection's budget (``budget_docs``, ``budget_fraction``).
    """
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"a method is named twice: {', '.join(names)}")
    facts = {"seed": seed, **(run_facts or {})}
    selectors = []
    for spec in specs:
        cls = get_selector(spec.name)
        params = {k.replace("-", "_"): v for k, v in spec.params.items()}
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        params.update({k: v for k, v in facts.items() if k in fields and k not in params})
        selectors.append(cls(build_config(cls.Config, params, spec.name)))
    return selectors


def describe_selectors(selectors: Sequence[Selector]) -> list[dict[str, Any]]:
    """Each selector by name and built config: what a run's fingerprint holds of its methods."""
    return [{"name": s.name, "config": dataclasses.asdict(s.config)} for s in selectors]


def check_target(specs: Sequence[str] | None) -> None:
    """Refuse ``--target -``: stdin is only ever the pool (read twice, so spooled); a target from it was read
    as a file named ``-`` ("No such file or directory", exit 1)."""
    if specs and STDIO in specs:
        raise ConfigError(f"{option('target')} cannot be - (stdin): the target set is read from a path; stdin "
                          "is for the pool", hint=f"save the target to a file, e.g. {option('target')} target.jsonl")


def read_target(specs: Sequence[str], opts: ReadOptions) -> list[str]:
    """All target texts (a target set is small: it is held in memory)."""
    check_target(specs)
    texts = list(iter_texts(resolve_inputs(specs), opts))
    if not texts:
        raise InputError(", ".join(specs), "the target set holds no documents", hint="pass a non-empty --target")
    return texts


def shard_pool(shards: Sequence[Shard], opts: ReadOptions, executor: Executor | None = None) -> ShardPool:
    """The pool as fits read it, its per-shard tasks on ``executor`` (here without one)."""
    if executor is None:
        return ShardPool(shards, opts)
    return ShardPool(shards, opts, executor.imap, executor.jobs, local=executor.kind == "local")


def fit_all(selectors: Sequence[Selector], target: Sequence[str] | None, pool: Sequence[Shard] | ShardPool,
            opts: ReadOptions, executor: Executor | None = None) -> None:
    """Fit each selector on the target and, where it needs one, the pool: a ``ShardPool``, which iterates
    as a stream of texts and lets a fit count rows, fetch only drawn rows and count shards as tasks on
    ``executor`` (the results do not depend on it). Selectors share one pool, so rows are counted once."""
    shared = pool if isinstance(pool, ShardPool) else shard_pool(pool, opts, executor)
    for selector in selectors:
        if selector.needs_target and target is None:
            raise ConfigError(f"method {selector.name!r} needs a target set", hint="pass --target FILE|DIR|GLOB")
        selector.fit(target or [], shared if selector.needs_raw else None)


# -- fitted state on disk ---------------------------------------------------------------------------------
def save_states(selectors: Sequence[Selector], directory: str) -> list[str]:
    """Write each fitted selector to ``directory/state/<name>.json`` (JSON only, never pickle)."""
    paths = []
    for selector in selectors:
        path = fs.join(directory, "state", f"{selector.name}.json")
        with atomic_output(path) as tmp:
            fs.write_text(tmp, json.dumps(selector.state_dict(), indent=1) + "\n")
        paths.append(path)
    return paths


def load_states(source: str, names: Sequence[str] | None = None) -> list[Selector]:
    """Selectors restored from a state file, or from the ``state/`` folder of an earlier ``score`` output.

    Raises:
        ConfigError: the path holds no state, or not the state of a requested method.
    """
    folder = fs.join(source, "state") if fs.isdir(fs.join(source, "state")) else source
    if fs.isdir(folder):
        files = [fs.join(folder, f) for f in fs.listdir(folder) if f.endswith(".json")]
    elif fs.isfile(folder):
        files = [folder]
    else:
        raise ConfigError(f"{option('state')} {source}: no such file or directory")
    states: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            state = json.loads(fs.read_text(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{option('state')} {path}: not a sievekit state file ({exc})") from exc
        if not isinstance(state, dict):
            raise ConfigError(f"{option('state')} {path}: not a sievekit state file (not a JSON object)")
        states[str(state.get("name"))] = state
    wanted = list(names) if names else sorted(states)
    missing = [n for n in wanted if n not in states]
    if missing or not wanted:
        raise ConfigError(f"{option('state')} {source}: no saved state for {', '.join(missing) or 'any method'} "
                          f"(found: {', '.join(sorted(states)) or 'none'})")
    selectors = []
    for name in wanted:
        try:
            selectors.append(get_selector(name).from_state_dict(states[name]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{option('state')} {source}: the saved state of {name} is damaged "
                              f"({type(exc).__name__}: {exc})", hint="re-run `sievekit score` to fit it") from exc
    return selectors


