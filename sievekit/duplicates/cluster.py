"""From LSH groups to clusters: verified edges, connected components over numpy arrays, survivors.

Edges come from each group's hub (its smallest document): every member is verified against the hub. A
member that fails gets a second chance against up to ``SECOND_CHANCES`` of the members that passed, spread
over the group: in a cluster of documents that are all near one another but not all near the hub (the
translations of one message catalogue, say) a member can be a near duplicate of most of the cluster and
still miss the hub. Members that fail both form a new group with their own smallest member as hub, and so
on for a few rounds ("peeling"), so one unrelated document that happens to be the smallest does not hide
the pairs among the rest. Connected components use label propagation with pointer jumping on int64
arrays, over the documents that have an edge only; a component is labelled by its smallest document, so
labels never depend on the order in which edges were found or on the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
Verifier = Callable[[I64, I64], npt.NDArray[np.bool_]]
PEEL_ROUNDS = 8
SECOND_CHANCES = 4


def group_hubs(group: I64) -> I64:
    """For members sorted by group, the position of each member's group's first member."""
    new = np.empty(len(group), dtype=bool)
    new[:1] = True
    np.not_equal(group[1:], group[:-1], out=new[1:])
    return np.maximum.accumulate(np.where(new, np.arange(len(group)), 0))


def peel(group: I64, members: I64, verify: Verifier, rounds: int = PEEL_ROUNDS) -> tuple[I64, I64]:
    """Verified edges ``(hub, member)`` of LSH groups (``members`` sorted by group, then document).

    Example:
        >>> g, m = np.array([0, 0, 0]), np.array([1, 5, 9])
        >>> u, v = peel(g, m, lambda a, b: (a + b) % 2 == 0)  # 1-5 and 1-9 pass
        >>> u.tolist(), v.tolist()
        ([1, 1], [5, 9])
    """
    us: list[I64] = []
    vs: list[I64] = []
    for _ in range(rounds):
        if len(members) < 2:
            break
        hub_pos = group_hubs(group)
        rest = hub_pos != np.arange(len(group))
        hub, member = members[hub_pos[rest]], members[rest]
        ok = verify(hub, member) if len(member) else np.zeros(0, dtype=bool)
        us.append(hub[ok])
        vs.append(member[ok])
        failed = np.flatnonzero(rest)[~ok]
        failed = _second_chance(group, members, np.flatnonzero(rest)[ok], failed, verify, us, vs)
        group, members = group[failed], members[failed]
        sizes = np.bincount(group) if len(group) else np.zeros(0, dtype=np.int64)
        keep = sizes[group] >= 2
        group, members = group[keep], members[keep]
    if not us:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(us), np.concatenate(vs)


def _second_chance(group: I64, members: I64, passed: I64, failed: I64, verify: Verifier, us: list[I64],
                   vs: list[I64]) -> I64:
    """Verify each failed member (positions, sorted) against up to ``SECOND_CHANCES`` passed members of its
    group, spread evenly; add the edges found and return the positions that failed again."""
    if not len(failed) or not len(passed):
        return failed
    pg, fg = group[passed], group[failed]
    start = np.searchsorted(pg, fg, side="left")
    count = np.searchsorted(pg, fg, side="right") - start
    tries = np.minimum(count, SECOND_CHANCES)
    who, hub = [], []
    for k in range(SECOND_CHANCES):
        sel = np.flatnonzero(k < tries)
        who.append(sel)
        hub.append(passed[start[sel] + (k * count[sel]) // tries[sel]])
    w, h = np.concatenate(who), np.concatenate(hub)
    if not len(w):
        return failed
    ok = verify(members[h], members[failed[w]])
    us.append(members[h][ok])
    vs.append(members[failed[w]][ok])
    found = np.zeros(len(failed), dtype=bool)
    found[w[ok]] = True
    return failed[~found]


def components(u: I64, v: I64) -> tuple[I64, I64]:
    """Connected components of the graph with edges ``(u[i], v[i])``.

    Returns ``(nodes, label)``: the sorted documents that have an edge and the smallest document of each
    one's component.

    Example:
        >>> n, lab = components(np.array([3, 7, 1]), np.array([7, 9, 2]))
        >>> n.tolist(), lab.tolist()
        ([1, 2, 3, 7, 9], [1, 1, 3, 3, 3])
    """
    nodes, inv = np.unique(np.concatenate((u, v)), return_inverse=True)
    a, b = inv[: len(u)], inv[len(u):]
    label = np.arange(len(nodes), dtype=np.int64)
    while True:
        la, lb = label[a], label[b]
        low = np.minimum(la, lb)
        if np.array_equal(la, lb):
            break
        # hook both ends' roots onto the smaller label, then jump pointers until every node sees its root
        np.minimum.at(label, la, low)
        np.minimum.at(label, lb, low)
        while True:
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt
    return nodes, nodes[label]


def survivors(nodes: I64, label: I64, priority: npt.NDArray[np.float64]) -> I64:
    """The survivor of each node's component: lowest ``priority``, ties to the smallest document."""
    order = np.lexsort((nodes, priority, label))
    first = np.empty(len(order), dtype=bool)
    first[:1] = True
    np.not_equal(label[order][1:], label[order][:-1], out=first[1:])
    winner = nodes[order][first]
    comp = np.unique(label, return_inverse=True)[1]
    comp_of_winner = comp[order][first]
    out = np.empty(len(nodes), dtype=np.int64)
    out_by_comp = np.empty(len(winner), dtype=np.int64)
    out_by_comp[comp_of_winner] = winner
    out[:] = out_by_comp[comp]
    return out


def size_histogram(label: I64) -> dict[str, int]:
    """Clusters (of two or more) by size, in power-of-two bins: ``{"2": n, "3-4": n, "5-8": n, …}``."""
    if len(label) == 0:
        return {}
    sizes, counts = np.unique(np.unique(label, return_counts=True)[1], return_counts=True)
    return histogram(dict(zip(sizes.tolist(), counts.tolist())))


def histogram(sizes: Mapping[int, int]) -> dict[str, int]:
    """``size_histogram`` from how many clusters there are of each size.

    Example:
        >>> histogram({2: 5, 3: 1, 4: 2, 9: 1})
        {'2': 5, '3-4': 3, '9-16': 1}
    """
    out: dict[str, int] = {}
    lo, top = 2, max(sizes, default=0)
    while lo <= top:
        hi = 2 if lo == 2 else lo * 2 - 2
        key = str(lo) if lo == hi else f"{lo}-{hi}"
        count = sum(c for s, c in sizes.items() if lo <= s <= hi)
        if count:
            out[key] = count
        lo = hi + 1
    return out
