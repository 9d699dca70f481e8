"""Accuracy of a clustering against a ground truth: pairwise and B-cubed scores.

Pairwise scores count pairs of records put together; B-cubed scores average, per record,
the precision and recall of its cluster, so one giant wrong cluster cannot hide.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    people_found: int
    people_true: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: np.ndarray) -> float:
    return float((n * (n - 1) // 2).sum())


def score(predicted, truth) -> Scores:
    """Scores of cluster labels ``predicted`` against ``truth`` (same order, any labels).

    Records with an empty or missing truth are each their own person.
    """
    pred = pd.factorize(pd.Series(predicted).astype(str))[0]
    true_series = pd.Series(truth).astype("string")
    missing = true_series.isna() | (true_series == "")
    true_series = true_series.mask(missing, "__alone_" + pd.Series(
        np.arange(len(true_series)).astype(str), index=true_series.index))
    true = pd.factorize(true_series)[0]
    joint = pd.DataFrame({"p": pred, "t": true}).value_counts().to_numpy()
    size_p = np.bincount(pred)
    size_t = np.bincount(true)
    tp = _pairs(joint)
    predicted_pairs, true_pairs = _pairs(size_p), _pairs(size_t)
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    # B-cubed: for each record, |C(r) & T(r)| / |C(r)| and / |T(r)|.
    frame = pd.DataFrame({"p": pred, "t": true})
    inter = frame.groupby(["p", "t"])["p"].transform("size").to_numpy(dtype=float)
    b_precision = float(np.mean(inter / size_p[pred])) if len(pred) else 1.0
    b_recall = float(np.mean(inter / size_t[true])) if len(pred) else 1.0
    return Scores(
        precision, recall, _f1(precision, recall),
        b_precision, b_recall, _f1(b_precision, b_recall),
        int(len(size_p)), int(len(size_t)),
    )

