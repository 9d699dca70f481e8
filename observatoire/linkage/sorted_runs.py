"""Sorting and runs of equal values in large integer arrays, for blocking and clustering.

At a million records the engine sorts and groups tens of millions of pairs; numpy's stable
argsort and ``ufunc.at`` take seconds there, a plain sort and a reduction over runs a
fraction of that. Pure numpy, no state.
"""

from __future__ import annotations

import numpy as np


def stable_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` of non-negative integers, by sorting the keys with
    their position packed in the low bits when both fit in 63 bits: a plain sort of
    integers is several times faster than an argsort of tens of millions of them."""
    key = np.asarray(key, dtype=np.int64)
    if len(key) == 0:
        return np.empty(0, np.int64)
    position_bits = int(len(key) - 1).bit_length()
    if int(key.max()).bit_length() + position_bits > 63:
        return np.argsort(key, kind="stable")
    packed = key << position_bits  # in place from here: these arrays are large
    packed |= np.arange(len(key), dtype=np.int64)
    packed.sort()
    packed &= (1 << position_bits) - 1
    return packed


def dense_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each non-negative integer among the distinct values (same order, no gaps)."""
    if len(values) == 0:
        return np.empty(0, np.int64)
    present = np.zeros(int(values.max()) + 1, dtype=np.int64)
    present[values] = 1
    return (np.cumsum(present) - 1)[values]


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """Where each run of equal rows starts in sorted ``columns`` (rows equal in every
    column form a run); empty for empty columns."""
    if len(columns[0]) == 0:
        return np.empty(0, np.int64)
    change = np.zeros(len(columns[0]), dtype=bool)
    change[0] = True
    for column in columns:
        change[1:] |= column[1:] != column[:-1]
    return np.flatnonzero(change)


def maximum_into(
    out: np.ndarray, index: np.ndarray, values: np.ndarray, chunk: int = 8_000_000
) -> None:
    """``np.maximum.at(out, index, values)``, by sorting the index (unless it is sorted
    already) and reducing each run: ``ufunc.at`` costs seconds on tens of millions."""
    if len(index) > chunk:  # a maximum of maxima: bounded temporaries, the same result
        for start in range(0, len(index), chunk):
            maximum_into(out, index[start : start + chunk], values[start : start + chunk])
        return
    if len(index) == 0:
        return
    if np.any(index[1:] < index[:-1]):
        order = stable_order(index)
        index, values = index[order], values[order]
    starts = run_starts(index)
    at = index[starts]
    out[at] = np.maximum(out[at], np.maximum.reduceat(values, starts))
