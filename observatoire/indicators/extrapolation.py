"""Sectors not walked on the count night: an estimate beside the *a minima* count.

The official figure of a count night is what the teams counted (*a minima*). When sectors
were planned but not walked, or walked only in part, the people who slept there are missing
from it. As HUD's guidance for unsurveyed areas of a point-in-time count suggests, each such
sector gets the mean count of the walked sectors of its stratum: sectors of the same density
class (from the previous nights' counts of the sector, or from partner data) or, failing
that, of the same commune, or of the whole territory. The interval is predictive: the walked
sectors are resampled within each stratum (a stratified bootstrap) and each sector not
walked drawn from them, so that it holds both the uncertain mean and the spread of sectors.
The extrapolated total is an estimate, labelled as such; the official count stays the
counted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_WALKED = 3  # walked sectors a stratum needs to stand for its sectors not walked
WALKED = "walked"
IN_PROGRESS = "in_progress"

METHOD_NOTE = (
    "Les secteurs prévus mais non parcourus (ou parcourus en partie) reçoivent le nombre "
    "moyen de personnes des secteurs parcourus de la même strate (classe de densité des "
    "nuits précédentes, sinon commune, sinon tout le territoire) ; l'intervalle à 95 % "
    "rééchantillonne les secteurs parcourus de chaque strate et en tire chaque secteur "
    "manquant. Le décompte officiel reste le "
    "nombre de personnes rencontrées (a minima) ; le total extrapolé est une estimation."
)


@dataclass(frozen=True)
class Extrapolation:
    counted: int  # people counted (a minima, the official figure)
    estimate: int  # counted + people estimated in the sectors not (fully) walked
    interval_95: tuple[int, int]
    sectors: int
    walked: int
    estimated_sectors: int  # sectors given an estimate (not walked, or in part)
    by_commune: pd.DataFrame  # commune_code, counted, estimate, low, high
    note: str = METHOD_NOTE


def density_classes(previous: pd.Series, classes: int = 3) -> pd.Series:
    """Density class of each sector from its counts of earlier nights (quantile classes;
    sectors never counted before get no class)."""
    known = previous.dropna()
    if known.nunique() < classes:
        return pd.Series(pd.NA, index=previous.index, dtype=object)
    ranks = known.rank(method="first")
    labels = pd.qcut(ranks, classes, labels=[f"densité {i + 1}" for i in range(classes)])
    return labels.astype(object).reindex(previous.index)


def _strata(frame: pd.DataFrame) -> pd.Series:
    """The stratum of each sector: its density class when its class has enough walked
    sectors, else its commune when the commune has, else the whole territory."""
    walked = frame["status"] == WALKED
    stratum = pd.Series("territoire", index=frame.index, dtype=object)
    commune = frame["commune_code"].astype(str)
    by_commune = commune[walked].value_counts()
    usable = commune.map(by_commune).fillna(0) >= MIN_WALKED
    stratum[usable] = "commune " + commune[usable]
    if "density_class" in frame:
        density = frame["density_class"]
        by_class = density[walked].value_counts()
        usable = density.notna() & (density.map(by_class).fillna(0) >= MIN_WALKED)
        stratum[usable] = density[usable].astype(str)
    return stratum


def extrapolate_count(
    sectors: pd.DataFrame, *, replicates: int = 1000, seed: int = 2026
) -> Extrapolation:
    """The count night's total with the sectors not walked estimated.

    ``sectors``: one row per planned sector with ``commune_code``, ``status`` (``walked``,
    ``in_progress`` or anything else for not started), ``people`` (counted there so far)
    and optionally ``density_class`` (see `density_classes`). A sector walked in part keeps
    what was counted when that is more than its stratum's mean.
    """
    frame = sectors.reset_index(drop=True).copy()
    frame["people"] = pd.to_numeric(frame["people"], errors="coerce").fillna(0).astype(int)
    walked = (frame["status"] == WALKED).to_numpy()
    frame["stratum"] = _strata(frame)
    counted = int(frame["people"].sum())
    if walked.all() or not walked.any():
        # Everything walked: nothing to estimate. Nothing walked: nothing to estimate from.
        table = (frame.groupby("commune_code")["people"].sum().rename("counted").reset_index()
                 .assign(estimate=lambda t: t["counted"], low=lambda t: t["counted"],
                         high=lambda t: t["counted"]))
        return Extrapolation(counted, counted, (counted, counted), len(frame),
                             int(walked.sum()), 0, table)

    rng = np.random.default_rng(seed)
    groups = {s: frame.loc[walked & (frame["stratum"] == s).to_numpy(), "people"].to_numpy()
              for s in frame["stratum"].unique()}
    means = {s: (values.mean() if len(values) else 0.0) for s, values in groups.items()}
    missing = ~walked
    strata_missing = frame.loc[missing, "stratum"].to_numpy()
    counted_missing = frame.loc[missing, "people"].to_numpy()

    def at_least_counted(values: np.ndarray) -> np.ndarray:
        return np.maximum(values, counted_missing)

    point = at_least_counted(np.array([means[s] for s in strata_missing]))
    commune_missing = frame.loc[missing, "commune_code"].to_numpy()
    position = {s: np.flatnonzero(strata_missing == s) for s in groups}
    replicate_totals = np.empty(replicates)
    replicate_communes = []
    for b in range(replicates):
        # A predictive draw: the walked sectors resampled within their stratum, then each
        # sector not walked given the count of one of them (its mean and its spread).
        values = np.zeros(len(strata_missing))
        for s, walked_counts in groups.items():
            where = position[s]
            if not len(where) or not len(walked_counts):
                continue
            resampled = rng.choice(walked_counts, size=len(walked_counts), replace=True)
            values[where] = rng.choice(resampled, size=len(where), replace=True)
        values = at_least_counted(values)
        replicate_totals[b] = values.sum()
        replicate_communes.append(pd.Series(values).groupby(commune_missing).sum())
    walked_total = int(frame.loc[walked, "people"].sum())
    estimate = walked_total + float(point.sum())
    low, high = np.percentile(walked_total + replicate_totals, [2.5, 97.5])

    by_commune = frame.groupby("commune_code")["people"].sum().rename("counted").to_frame()
    added = pd.Series(point - counted_missing, index=commune_missing).groupby(level=0).sum()
    by_commune["estimate"] = by_commune["counted"] + added.reindex(by_commune.index).fillna(0)
    spread = pd.concat(replicate_communes, axis=1).T if replicate_communes else pd.DataFrame()
    walked_by = frame.loc[walked].groupby("commune_code")["people"].sum()
    base = walked_by.reindex(by_commune.index).fillna(0)
    low_by = spread.quantile(0.025).reindex(by_commune.index).fillna(0) + base
    high_by = spread.quantile(0.975).reindex(by_commune.index).fillna(0) + base
    by_commune["low"] = np.minimum(low_by.where(by_commune.index.isin(added.index),
                                                by_commune["counted"]), by_commune["estimate"])
    by_commune["high"] = np.maximum(high_by.where(by_commune.index.isin(added.index),
                                                  by_commune["counted"]), by_commune["estimate"])
    by_commune = by_commune.round().astype(int).reset_index()
    return Extrapolation(
        counted=counted,
        estimate=int(round(estimate)),
        interval_95=(int(np.floor(min(low, estimate))), int(np.ceil(max(high, estimate)))),
        sectors=len(frame),
        walked=int(walked.sum()),
        estimated_sectors=int(missing.sum()),
        by_commune=by_commune,
    )
