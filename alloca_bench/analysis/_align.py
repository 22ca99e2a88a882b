"""Lining up results for compare(): loading paths, labels, the reference, and the strategies
(with `match=` pairs), sizes and iterations every result shares, with what each leaves out."""
from __future__ import annotations

import numbers
import os
from typing import Mapping, Sequence, Union

import numpy as np

from alloca_bench.results import Iterations, Result, load

ResultLike = Union[Result, str, "os.PathLike[str]"]


def check_match(match: Mapping[str, str] | None) -> dict[str, str]:
    if match is None:
        return {}
    if not isinstance(match, Mapping) or not all(
            isinstance(a, str) and isinstance(b, str) for a, b in match.items()):
        raise TypeError(f"match must map strategy names to strategy names, e.g. "
                        f"{{'malloc@glibc': 'malloc@jemalloc'}}, not {match!r}")
    for a, b in match.items():
        if a == b:
            raise ValueError(f"match pairs {a!r} with itself")
    return dict(match)


def path_label(path: str | os.PathLike) -> str:
    """A saved result's label in a comparison: its file name without the extension."""
    return os.path.splitext(os.path.basename(os.fspath(path)))[0]


def load_all(results: Sequence[ResultLike]) -> tuple[list[Result], list[str]]:
    if len(results) == 1 and isinstance(results[0], (list, tuple)):
        results = tuple(results[0])  # compare(["a.json", "b.json"]): the list itself
    if len(results) < 2:
        raise ValueError(f"compare needs at least two results, got {len(results)}")
    loaded, names = [], []
    for k, item in enumerate(results):
        if isinstance(item, Result):
            loaded.append(item)
            names.append(letters(k))
        elif isinstance(item, (str, os.PathLike)):
            result = load(item)
            if not isinstance(result, Result):  # a ThreadsResult: another question
                raise ValueError(f"{os.fspath(item)} holds a {type(result).__name__}, not a "
                                 "sweep: compare compares sweeps (alloca-bench run)")
            loaded.append(result)
            names.append(path_label(item))
        else:
            raise TypeError(f"compare takes Result objects or paths of saved results, not "
                            f"{type(item).__name__} (argument {k + 1})")
    return loaded, names


def check_labels(labels: Sequence[str] | None, default: list[str]) -> tuple[str, ...]:
    """The labels of the results: `labels` (distinct, one per result) or, when None, the
    defaults made distinct (distinct_labels)."""
    if labels is None:
        return distinct_labels(default)
    labels = tuple(str(label) for label in labels)
    if len(labels) != len(default):
        raise ValueError(f"{len(labels)} labels for {len(default)} results")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels= repeats a name: {list(labels)}")
    return labels


def distinct_labels(names: Sequence[str]) -> tuple[str, ...]:
    """`names`, each with a letter in front when two are the same (two files of one name in
    different folders, or one file given twice)."""
    if len(set(names)) == len(names):
        return tuple(names)
    return tuple(f"{letters(k)}:{name}" for k, name in enumerate(names))


def letters(k: int) -> str:
    """The k-th (from 0) name in the order of spreadsheet columns: a..z, aa..az, ba..zz,
    aaa...: distinct and readable for any count."""
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(ord("a") + r) + name
    return name


def reference_index(reference: int | str, labels: tuple[str, ...]) -> int:
    if isinstance(reference, str):
        if reference not in labels:
            raise ValueError(f"reference {reference!r} is not one of the labels {list(labels)}")
        return labels.index(reference)
    if isinstance(reference, bool) or not isinstance(reference, numbers.Integral) \
            or not 0 <= reference < len(labels):
        raise ValueError(f"reference must be a label or an index from 0 to {len(labels) - 1}, "
                         f"got {reference!r}")
    return int(reference)


def align(results: list[Result], labels: tuple[str, ...], match: dict[str, str]):
    """The strategies (row name -> each result's own name), sizes and iterations every result
    has (in the first result's order), what each result has beyond them, or a ValueError
    saying what does not line up."""
    touches = {r.touch for r in results}
    if len(touches) > 1:
        shown = ", ".join(f"{label} touch={r.touch!r}" for label, r in zip(labels, results))
        raise ValueError(f"these results measured different touch modes ({shown}): a cell "
                         "means something else in each; compare results of one touch mode")
    names: dict[str, list[str]] = {}
    for a, b in match.items():
        own = [a if a in r.strategies else b for r in results]
        missing = [label for label, r, o in zip(labels, results, own) if o not in r.strategies]
        if missing:
            raise ValueError(f"match {a}={b}: neither is in {', '.join(missing)}")
        for name in (a, b):  # a name no result has (a typo) would match nothing
            if not any(name in r.strategies for r in results):
                raise ValueError(f"match {a}={b}: no result has a strategy {name!r}")
        names[a if set(own) == {a} else b if set(own) == {b} else f"{a}={b}"] = own
    matched = {n for own in names.values() for n in own}
    axes = {
        "strategies": [tuple(s for s in r.strategies if s not in matched) for r in results],
        "sizes": [tuple(int(s) for s in r.sizes) for r in results],
        "iterations": [tuple(r.iterations) for r in results],
    }
    shared, left_out = {}, {}
    for axis, values in axes.items():
        common = [v for v in values[0] if all(v in other for other in values[1:])]
        if not common and not (axis == "strategies" and names):
            shown = "; ".join(f"{label} has {list(v)}" for label, v in zip(labels, values))
            raise ValueError(f"these results have no {axis} in common, so there is nothing to "
                             f"compare: {shown}")
        shared[axis] = tuple(common)
        extra = {label: [v for v in vals if v not in common] for label, vals in zip(labels, values)}
        extra = {label: v for label, v in extra.items() if v}
        if extra:
            left_out[axis] = extra
    names.update({s: [s] * len(results) for s in shared["strategies"]})
    first = results[0].strategies
    names = dict(sorted(names.items(), key=lambda item: first.index(item[1][0])))
    return names, shared["sizes"], shared["iterations"], left_out


def _indices(result: Result, strategies: Sequence[str], sizes: Sequence[int],
             iterations: Sequence[Iterations]) -> tuple[list[int], list[int], list[int]]:
    return ([result.strategies.index(s) for s in strategies],
            [int(np.flatnonzero(result.sizes == z)[0]) for z in sizes],
            [result.iterations.index(i) for i in iterations])


def cell_status(result: Result, strategies: Sequence[str], sizes: Sequence[int],
                iterations: Sequence[Iterations]) -> np.ndarray:
    """The status of the aligned cells: shape (strategy, size, iterations)."""
    return result.status[np.ix_(*_indices(result, strategies, sizes, iterations))]


def cells(result: Result, strategies: Sequence[str], sizes: Sequence[int],
          iterations: Sequence[Iterations], normalize: str | None,
          what: str = "ns_per_op") -> tuple[np.ndarray, np.ndarray]:
    """The samples of the aligned cells and their process indices: each of shape (strategy,
    size, iterations, repeat)."""
    s_idx, z_idx, i_idx = _indices(result, strategies, sizes, iterations)
    data = getattr(result, what)
    picked = data[np.ix_(s_idx, z_idx, i_idx)]
    if normalize is not None:
        n = result.strategies.index(normalize)
        with np.errstate(invalid="ignore", divide="ignore"):
            # Paired by round: both batches ran back to back in the same machine state.
            picked = picked / data[np.ix_([n], z_idx, i_idx)]
    return picked, result.process[np.ix_(s_idx, z_idx, i_idx)]
