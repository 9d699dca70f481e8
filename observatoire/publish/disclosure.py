"""Disclosure control for published tables: minimum cell size, secondary suppression,
optional rounding.

The rules follow INSEE/DGFiP practice for counts of individuals:

1. *Primary suppression*: a cell counting fewer people than ``threshold`` (11 by default),
   but more than zero, is not published.
2. *Secondary suppression*: the suppressed cells are merged into one "other communes" cell,
   published only if it holds at least ``threshold`` people and at least two non-empty
   cells; otherwise the smallest published cells join it, one by one. So the total minus
   the published cells gives the merged cell, never a single suppressed one.
3. A total under the threshold suppresses the whole table.
4. *Rounding* (optional) to a multiple of ``rounding``, never below the threshold, applied
   to every published figure independently (totals may then differ from the sum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatoire.model import ObservatoireError

PUBLISHED = "publié"
PRIMARY = "secret (effectif < seuil)"
SECONDARY = "secret (secret secondaire)"
OTHER = "regroupement"
TOTAL = "total"

DEFAULT_THRESHOLD = 11


@dataclass(frozen=True)
class DisclosureRules:
    """How published tables are protected (see the module docstring)."""

    threshold: int = DEFAULT_THRESHOLD
    rounding: int | None = None
    other_label: str = "Autres communes"
    total_label: str = "Total"
    perturbation: bool = False
    """Cell-key perturbation (`observatoire.publish.perturbation`) before the threshold."""

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ObservatoireError(
                f"Seuil de secret statistique invalide : {self.threshold}. Indiquez un entier "
                "d'au moins 1 (11 par défaut, pratique INSEE)."
            )
        if self.rounding is not None and self.rounding < 1:
            raise ObservatoireError(
                f"Arrondi invalide : {self.rounding}. Indiquez un entier positif (par ex. 5) "
                "ou aucun arrondi."
            )

    def publish_value(self, value: float) -> int:
        """A count as published: rounded if asked, never rounded below the threshold."""
        value = int(value)
        if not self.rounding or value == 0:
            return value
        rounded = int(self.rounding * round(value / self.rounding))
        floor = self.rounding * math.ceil(self.threshold / self.rounding)
        return max(rounded, floor)


def suppression_pattern(values: pd.Series | np.ndarray, threshold: int,
                        secret: np.ndarray | None = None) -> tuple[np.ndarray, bool]:  # fmt: skip
    """Which cells to suppress (primary and secondary), and whether the total must go too.

    ``secret``: cells to suppress whatever their size (kept secret by an earlier published
    version), marked `SECONDARY` and merged like the others; an empty one stays published.
    Returns ``(status, total_suppressed)`` with ``status`` an array of `PUBLISHED`,
    `PRIMARY` or `SECONDARY` per cell.
    """
    v = np.asarray(values, dtype="int64")
    forced = np.zeros(len(v), dtype=bool) if secret is None else np.asarray(secret, dtype=bool)
    if (v < 0).any():
        raise ValueError("Les effectifs à publier ne peuvent pas être négatifs.")
    status = np.full(len(v), PUBLISHED, dtype=object)
    total = int(v.sum())
    if 0 < total < threshold:
        status[v > 0] = PRIMARY
        status[(v > 0) & (v >= threshold)] = SECONDARY
        return status, True
    primary = (v > 0) & (v < threshold)
    status[primary] = PRIMARY
    status[forced & ~primary & (v > 0)] = SECONDARY
    suppressed = primary | (forced & (v > 0))
    if not suppressed.any():
        return status, False
    order = np.argsort(v, kind="stable")
    while True:
        group = v[suppressed]
        if group.sum() >= threshold and (group > 0).sum() >= 2:
            return status, False
        candidates = [i for i in order if not suppressed[i] and v[i] > 0]
        if not candidates:
            # Nothing left to merge with: only the total would reveal the group.
            return status, True
        suppressed[candidates[0]] = True
        status[candidates[0]] = SECONDARY


def protect_counts(
    table: pd.DataFrame,
    value: str,
    label: str,
    rules: DisclosureRules = DisclosureRules(),  # noqa: B008 - frozen, immutable default
    *,
    keep: tuple[str, ...] = (),
    sum_columns: tuple[str, ...] = (),
    secret: np.ndarray | None = None,
) -> pd.DataFrame:
    """Protect a one-way table of counts with its total.

    ``table`` has one row per cell (a commune, a kind of place): ``label`` names it,
    ``value`` counts people. Returns the published rows: ``label``, ``value`` (``<NA>`` where
    suppressed), ``statut``, the ``keep`` columns (copied, e.g. a commune code), the
    ``sum_columns`` (e.g. population, summed on the merged and total rows), then a merged
    row (``rules.other_label``, when cells were suppressed) and a total row. ``secret``:
    cells suppressed whatever their size (`suppression_pattern`).
    """
    status, total_hidden = suppression_pattern(table[value].fillna(0), rules.threshold, secret)
    cells = table[[label, *keep, *sum_columns]].copy()
    cells["statut"] = status
    raw = table[value].fillna(0).astype("int64").to_numpy()
    published = [
        rules.publish_value(x) if s == PUBLISHED else pd.NA
        for x, s in zip(raw, status, strict=True)
    ]
    cells[value] = pd.array(published, dtype="Int64")
    hidden = status != PUBLISHED
    rows = [cells]
    if hidden.any():
        # The merged and total rows have no code of their own: an empty cell, never "None".
        merged = {label: rules.other_label, "statut": OTHER, **dict.fromkeys(keep, "")}
        merged.update({c: table.loc[hidden, c].sum() for c in sum_columns})
        merged[value] = pd.NA if total_hidden else rules.publish_value(raw[hidden].sum())
        rows.append(pd.DataFrame([merged]))
    total = {label: rules.total_label, "statut": TOTAL, **dict.fromkeys(keep, "")}
    total.update({c: table[c].sum() for c in sum_columns})
    total[value] = pd.NA if total_hidden else rules.publish_value(raw.sum())
    rows.append(pd.DataFrame([total]))
    out = pd.concat(rows, ignore_index=True)
    out[value] = out[value].astype("Int64")
    return out


def protect_share(
    numerator: float, denominator: int, rules: DisclosureRules = DisclosureRules()  # noqa: B008
) -> float | None:
    """A share fit to publish, or ``None`` when the people it counts (or those it leaves
    out) are fewer than the threshold: 2 women out of 40 would single them out."""
    if denominator <= 0:
        return None
    rest = denominator - numerator
    if denominator < rules.threshold:
        return None
    if 0 < numerator < rules.threshold or 0 < rest < rules.threshold:
        return None
    return numerator / denominator


INTERVAL_STEP = 10
"""Published bounds of an estimate's interval are widened to a multiple of this."""


def protect_interval(low: float, high: float,
                     rules: DisclosureRules = DisclosureRules()  # noqa: B008
                     ) -> tuple[int, int] | None:  # fmt: skip
    """An estimate's interval fit to publish: bounds widened outwards to a multiple of
    `INTERVAL_STEP` (a model's output, never an exact count to difference with the
    tables), or ``None`` when its widened low bound is under the threshold (a handful of
    people estimated is not published)."""
    widened = (int(INTERVAL_STEP * math.floor(low / INTERVAL_STEP)),
               int(INTERVAL_STEP * math.ceil(high / INTERVAL_STEP)))  # fmt: skip
    if widened[0] < rules.threshold or high < low:
        return None
    return widened
