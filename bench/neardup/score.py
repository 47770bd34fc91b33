"""Score predicted duplicate clusters against the generator's ground truth.

A predicted duplicate pair is two documents in the same predicted cluster. Precision: the share of
predicted pairs whose documents come from the same source (hard negatives and distinct documents have
labels of their own). Recall: the share of same-source pairs whose exact Jaccard is >= t that end in the
same predicted cluster, also reported per exact-Jaccard band. One-survivor: the share of "tight" clusters
(every variant has Jaccard >= t with its source) left with exactly one kept document.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

BANDS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0), (1.0, 1.01)]


def load_truth(root: Path) -> tuple[dict[str, str], list[dict]]:
    labels = {}
    for shard in sorted((root / "pool").glob("*.jsonl")):
        for line in shard.open(encoding="utf-8"):
            d = json.loads(line)
            labels[d["id"]] = d["label"]
    pairs = [json.loads(x) for x in (root / "truth.jsonl").open(encoding="utf-8")]
    return labels, pairs


def oracle(pairs: list[dict], threshold: float) -> dict[str, str]:
    """Clusters an exact-Jaccard oracle would form: components of the labeled pairs with J >= t."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        if p["j"] >= threshold:
            ra, rb = find(p["a"]), find(p["b"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def score(pred: dict[str, str], kept: set[str], labels: dict[str, str], pairs: list[dict],
          threshold: float) -> dict[str, float | int | dict[str, float]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for doc, cluster in pred.items():
        groups[cluster].append(doc)
    tp = fp = 0
    for members in groups.values():
        for a, b in itertools.combinations(members, 2):
            if labels[a] == labels[b]:
                tp += 1
            else:
                fp += 1
    same = [p for p in pairs if p["same"]]

    def caught(p: dict) -> bool:
        ca, cb = pred.get(p["a"]), pred.get(p["b"])
        return ca is not None and ca == cb

    per_band = {}
    for lo, hi in BANDS:
        sel = [p for p in same if lo <= p["j"] < hi]
        per_band[f"[{lo:.1f},{min(hi, 1.0):.1f}{')' if hi <= 1.0 else ']'}"] = (
            round(sum(map(caught, sel)) / len(sel), 4) if sel else None)
    pos = [p for p in same if p["j"] >= threshold]
    band = [p for p in same if threshold <= p["j"] < threshold + 0.1]
    recall = sum(map(caught, pos)) / len(pos) if pos else 0.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    return {"precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
            "recall_t_band": round(sum(map(caught, band)) / len(band), 4) if band else None,
            "recall_by_band": per_band, "predicted_pairs": tp + fp, "false_pairs": fp,
            "one_survivor": _one_survivor(kept, labels, pairs, threshold)}


def _one_survivor(kept: set[str], labels: dict[str, str], pairs: list[dict], threshold: float) -> float:
    members: dict[str, set[str]] = defaultdict(set)
    loose: set[str] = set()
    for p in pairs:
        if p["same"]:
            lab = labels[p["a"]]
            members[lab] |= {p["a"], p["b"]}
            if p["j"] < threshold:
                loose.add(lab)
    tight = [m for lab, m in members.items() if lab not in loose]
    return round(sum(len(m & kept) == 1 for m in tight) / len(tight), 4) if tight else 1.0
