"""How many people no source saw: multiple-systems estimation (MSE) on the linked sources.

Each person found by the linkage was seen by one or more sources (count night, SI-SIAO, 115,
outreach, day centres). The *capture histories* (which sources saw each person) form an
incomplete ``2^k`` contingency table: the cell "seen by none" is missing. A log-linear Poisson
model fitted to the ``2^k - 1`` observed cells (main effects, plus interactions between
sources) predicts that cell (Fienberg 1972; Bishop, Fienberg and Holland 1975, ch. 6;
International Working Group for Disease Monitoring and Forecasting 1995). Statistics
Netherlands publishes its homeless figures this way (Coumans et al. 2017).

What each model assumes, said once here and printed with every estimate:

* **closed population** over the period the sources cover (nobody enters or leaves it);
* **no over-coverage**: every person in the table belongs to the population (a person housed
  before the period, or counted twice because the linkage split them, inflates the table);
* **list dependence is what the interactions say**: a pair interaction lets two sources be
  dependent (a 115 caller is likelier to be in SI-SIAO); the highest-order interaction is
  never identifiable and is assumed absent;
* **heterogeneity of catchability** is handled only through strata (sex, age band, groups of
  communes) and through the interactions it induces: within a stratum, people are assumed
  alike.

Models are chosen by BIC (or AIC) among hierarchical models with pairwise interactions, by a
forward search from independence; the estimate is averaged over the models within reach of
the best (Burnham and Anderson's weights). Intervals: profile likelihood for one model
(Cormack 1992) and a bootstrap whose replicates are drawn from the observed cells (plus the
leading model's unseen cell), that chooses the model again on every replicate and, when
several readings of the linkage are given, draws its replicates across them, so that the
interval holds the model choice and the linkage's own uncertainty. With two sources the model is
Lincoln-Petersen's and Chapman's small-sample correction is used.

The fitting is statsmodels' GLM (Poisson family, log link): no optimiser is written here.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire.hidden_method import ASSUMPTIONS
from observatoire.model import ObservatoireError

CHI2_1_95 = 3.841458820694124  # chi-square quantile, 1 degree of freedom, 95 %
MAX_RATIO = 50.0  # an unseen cell above 50 times the observed people is a model that failed
MIN_OVERLAP = 20  # people seen by two sources or more below which the data cannot support
DOMINANT_SHARE = 0.8  # one source holding more than this share of the people
DISAGREEMENT = 2.0  # plausible models whose estimates differ by more than this factor
SENSITIVITY_MODELS = 6  # leading models shown in the sensitivity table (with independence)
RESELECT_MODELS = 12  # candidates the bootstrap chooses among on every replicate


class HiddenPopulationError(ObservatoireError, ValueError):
    """Data from which no multiple-systems estimate can be made."""


@dataclass(frozen=True)
class CaptureTable:
    """Who was seen by which sources: ``counts[m]`` people have capture pattern ``m``.

    Bit ``s`` of ``m`` is set when source ``sources[s]`` saw the person; ``counts[0]`` (seen
    by none) is unknown and kept at 0.
    """

    sources: tuple[str, ...]
    counts: np.ndarray

    def __post_init__(self) -> None:
        if len(self.counts) != 2 ** len(self.sources):
            raise ValueError("counts must have 2^k cells")

    @property
    def observed(self) -> int:
        return int(self.counts[1:].sum())

    @property
    def seen_twice(self) -> int:
        """People seen by at least two sources (the overlaps the estimate rests on)."""
        cells = np.arange(len(self.counts))
        return int(self.counts[_popcount(cells) >= 2].sum())

    def seen_by(self) -> dict[str, int]:
        cells = np.arange(len(self.counts))
        return {s: int(self.counts[(cells >> b) & 1 == 1].sum())
                for b, s in enumerate(self.sources)}

    @classmethod
    def from_memberships(
        cls, persons: pd.Series, sources: pd.Series, order: Sequence[str] | None = None
    ) -> CaptureTable:
        """The table of one record per row: its person and the source that holds it."""
        frame = pd.DataFrame({"person": persons.to_numpy(), "source": sources.to_numpy()})
        frame = frame.dropna()
        names = tuple(order) if order is not None else tuple(sorted(frame["source"].unique()))
        unknown = set(frame["source"]) - set(names)
        if unknown:
            raise HiddenPopulationError(
                f"Sources inconnues : {', '.join(sorted(map(str, unknown)))} "
                f"(sources attendues : {', '.join(names)})."
            )
        bit = frame["source"].map({s: 1 << b for b, s in enumerate(names)}).to_numpy()
        person_codes = pd.factorize(frame["person"])[0]
        pattern = np.zeros(person_codes.max(initial=-1) + 1, dtype=np.int64)
        np.bitwise_or.at(pattern, person_codes, bit.astype(np.int64))
        counts = np.bincount(pattern, minlength=2 ** len(names)).astype(float)
        counts[0] = 0.0
        return cls(names, counts)


def _popcount(cells: np.ndarray) -> np.ndarray:
    return np.array([bin(int(c)).count("1") for c in cells])


# Heterogeneity of catchability as one more column of the design, a function of the number
# of sources that saw a cell's people (Rivest and Baillargeon's Rcapture: models Mth with
# Poisson2 or Darroch's form; Darroch, Fienberg, Glonek and Junker 1993).
HETEROGENEITY = {
    "poisson2": ("hétérogénéité (Poisson)", lambda captures: 2.0 ** captures - 1),
    "darroch": ("hétérogénéité (Darroch)", lambda captures: captures ** 2 / 2.0),
}


@dataclass(frozen=True)
class LogLinearModel:
    """Main effects of every source plus the listed pairwise interactions and, optionally,
    a heterogeneity column (a key of `HETEROGENEITY`)."""

    interactions: tuple[tuple[int, int], ...] = ()
    heterogeneity: str | None = None

    def label(self, sources: Sequence[str]) -> str:
        parts = []
        if self.interactions:
            parts.append("interactions " + ", ".join(f"{sources[a]}×{sources[b]}"
                                                     for a, b in self.interactions))
        if self.heterogeneity:
            parts.append(HETEROGENEITY[self.heterogeneity][0])
        return " ; ".join(parts) or "indépendance"

    def design(self, k: int, cells: np.ndarray) -> np.ndarray:
        bits = ((cells[:, None] >> np.arange(k)) & 1).astype(float)
        columns = [np.ones(len(cells)), *bits.T]
        columns += [bits[:, a] * bits[:, b] for a, b in self.interactions]
        if self.heterogeneity:
            columns.append(HETEROGENEITY[self.heterogeneity][1](bits.sum(axis=1)))
        return np.column_stack(columns)

    def parameters(self, k: int) -> int:
        return 1 + k + len(self.interactions) + (self.heterogeneity is not None)

    def terms(self, k: int) -> list[object]:
        """The design's columns, named: so that a fit can start from a neighbour's."""
        return ["constante", *range(k), *self.interactions,
                *([self.heterogeneity] if self.heterogeneity else [])]

    def with_pair(self, pair: tuple[int, int]) -> LogLinearModel:
        return LogLinearModel(tuple(sorted((*self.interactions, pair))), self.heterogeneity)


@dataclass(frozen=True)
class ModelFit:
    model: LogLinearModel
    unseen: float  # predicted people seen by no source
    estimate: float  # observed + unseen
    deviance: float
    pearson: float  # Pearson's chi-square of the observed cells against the fit
    df: int
    aic: float
    bic: float
    fitted: np.ndarray  # expected count of every cell, the unseen one included
    params: np.ndarray  # the log-linear coefficients (a warm start for the bootstrap)


def _glm_fit(y: np.ndarray, design: np.ndarray, start: np.ndarray | None = None):
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.GLM(y, design, family=sm.families.Poisson()).fit(start_params=start)


def fit_model(table: CaptureTable, model: LogLinearModel,
              start: np.ndarray | None = None) -> ModelFit | None:
    """The model fitted to the observed cells; None when it cannot be estimated.

    With two sources and no interaction, Chapman's small-sample estimator replaces the
    maximum-likelihood one (``n1 n2 / m`` is biased upwards when the overlap is small).
    """
    k = len(table.sources)
    cells = np.arange(1, 2 ** k)
    if model.parameters(k) > len(cells):
        return None
    y = table.counts[1:]
    try:
        result = _glm_fit(y, model.design(k, cells), start)
    except Exception:  # noqa: BLE001 - a singular or divergent fit: the model is left out
        return None
    unseen = float(np.exp(result.params[0]))
    if k == 2 and not model.interactions:
        n10, n01, n11 = table.counts[1], table.counts[2], table.counts[3]
        unseen = float(n10 * n01 / (n11 + 1.0))
    observed = table.observed
    if not np.isfinite(unseen) or unseen > MAX_RATIO * max(observed, 1):
        return None
    n = len(y)
    loglike = float(result.llf)
    parameters = model.parameters(k)
    fitted = np.concatenate([[unseen], np.asarray(result.mu, dtype=float)])
    return ModelFit(
        model=model, unseen=unseen, estimate=observed + unseen,
        deviance=float(result.deviance), pearson=float(result.pearson_chi2),
        df=n - parameters,
        aic=-2 * loglike + 2 * parameters, bic=-2 * loglike + math.log(observed) * parameters,
        fitted=fitted, params=np.asarray(result.params, dtype=float),
    )


def profile_interval(table: CaptureTable, fit: ModelFit, level_chi2: float = CHI2_1_95,
                     ) -> tuple[float, float]:
    """Profile-likelihood interval of the total for one model (Cormack 1992).

    The unseen cell is filled with ``z``; the model is fitted to the complete table and the
    interval holds every ``z`` whose deviance is within the chi-square quantile of the
    smallest.
    """
    from scipy.optimize import brentq

    k = len(table.sources)
    cells = np.arange(2 ** k)
    design = fit.model.design(k, cells)
    observed = table.counts.copy()
    start = np.asarray(fit.params)

    def deviance(z: float) -> float:
        y = observed.copy()
        y[0] = max(z, 1e-9)
        return float(_glm_fit(y, design, start).deviance)

    # The complete table filled with the incomplete table's own prediction is fitted
    # exactly there: that is the smallest deviance.
    z_hat = fit.unseen
    d_min = deviance(z_hat)
    upper_bound = max(z_hat * 20 + 50, 10 * table.observed)
    target = lambda z: deviance(z) - d_min - level_chi2  # noqa: E731
    low = 0.0 if target(0.0) <= 0 else brentq(target, 0.0, z_hat, xtol=0.5)
    high = upper_bound
    if target(upper_bound) > 0:
        high = brentq(target, z_hat, upper_bound, xtol=0.5)
    return table.observed + low, table.observed + high


def candidate_models(table: CaptureTable, criterion: str = "bic",
                     max_interactions: int | None = None) -> list[ModelFit]:
    """Hierarchical models met by forward searches, best first.

    Each search starts from independence, with and without a heterogeneity column, and adds
    at each step the pair interaction that lowers the criterion most; it stops when none
    does, or when the model would leave no degree of freedom. Every model fitted on the way
    is returned, so that model averaging and the sensitivity table can use them.
    """
    if criterion not in ("bic", "aic"):
        raise HiddenPopulationError(f"Critère inconnu : {criterion!r} (bic ou aic).")
    k = len(table.sources)
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    limit = len(pairs) if max_interactions is None else max_interactions
    score = (lambda f: f.bic) if criterion == "bic" else (lambda f: f.aic)
    fitted: dict[LogLinearModel, ModelFit] = {}
    starts = [None, *HETEROGENEITY] if k >= 3 else [None]
    for heterogeneity in starts:
        current = LogLinearModel((), heterogeneity)
        if current.parameters(k) >= 2 ** k - 1 and heterogeneity:
            continue
        best = fitted.get(current) or fit_model(table, current)
        if best is None:
            continue
        fitted[current] = best
        while len(current.interactions) < limit:
            step = None
            for pair in pairs:
                if pair in current.interactions:
                    continue
                model = current.with_pair(pair)
                if model.parameters(k) >= 2 ** k - 1:  # keep a degree of freedom
                    continue
                candidate = fitted.get(model) or fit_model(
                    table, model, _start_from(best, model, k))
                if candidate is None:
                    continue
                fitted[model] = candidate
                if step is None or score(candidate) < score(step):
                    step = candidate
            if step is None or score(step) >= score(best):
                break
            best, current = step, step.model
    return sorted(fitted.values(), key=score)


def _start_from(fit: ModelFit, model: LogLinearModel, k: int) -> np.ndarray:
    """Starting values for ``model``: the neighbour's coefficients, 0 for a new term."""
    known = dict(zip(fit.model.terms(k), fit.params, strict=True))
    return np.array([known.get(term, 0.0) for term in model.terms(k)])


def model_weights(fits: Sequence[ModelFit], criterion: str = "bic") -> np.ndarray:
    """Akaike-style weights ``exp(-Δ/2)`` of the models (Burnham and Anderson 2002)."""
    scores = np.array([f.bic if criterion == "bic" else f.aic for f in fits])
    delta = scores - scores.min()
    weights = np.exp(-delta / 2)
    return weights / weights.sum()


@dataclass(frozen=True)
class SensitivityRow:
    reading: str  # which linkage reading (French label)
    model: str
    estimate: float
    low: float  # profile-likelihood interval of this model
    high: float
    weight: float  # BIC weight among the models of this reading


@dataclass(frozen=True)
class HiddenEstimate:
    """The total population estimated from the sources' overlaps, with its interval."""

    observed: int
    estimate: int
    interval_95: tuple[int, int]
    model: str
    sources: tuple[str, ...]
    strata: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sensitivity: tuple[SensitivityRow, ...] = field(default=(), repr=False)
    replicates: int = 0
    overdispersion: float = 1.0  # ĉ that widened the bootstrap interval (1: not widened)
    interval_90: tuple[int, int] | None = None  # the same bootstrap's 5-95 % range

    def to_json(self) -> dict:
        return {
            "observed": self.observed,
            "estimate": self.estimate,
            "interval_95": list(self.interval_95),
            "interval_90": list(self.interval_90 or self.interval_95),
            "model": self.model,
            "sources": list(self.sources),
            "strata": list(self.strata),
            "warnings": list(self.warnings),
            "bootstrap_replicates": self.replicates,
            "overdispersion": round(self.overdispersion, 3),
            "sensitivity": [
                {"lecture": r.reading, "model": r.model, "estimate": round(r.estimate, 1),
                 "interval_95": [round(r.low, 1), round(r.high, 1)],
                 "weight": round(r.weight, 4)}
                for r in self.sensitivity
            ],
            "assumptions": list(ASSUMPTIONS),
        }


@dataclass(frozen=True)
class _Reading:
    """One reading of the linkage: its tables (one per stratum) and their fitted models."""

    label: str
    tables: tuple[CaptureTable, ...]
    fits: tuple[tuple[ModelFit, ...], ...]  # per stratum, best first
    weights: tuple[np.ndarray, ...]


def _averaged(fits: Sequence[ModelFit], weights: np.ndarray) -> float:
    return float(sum(w * f.estimate for f, w in zip(fits, weights, strict=True)))


def _leading(fits: Sequence[ModelFit], weights: np.ndarray, top: int = 3,
             floor: float = 0.01) -> list[ModelFit]:
    keep = [f for f, w in zip(fits, weights, strict=True) if w >= floor]
    return keep[:top] or [fits[0]]


def _replicate_estimate(table: CaptureTable, leading: Sequence[ModelFit],
                        criterion: str, reselect: bool) -> float | None:
    """The replicate's estimate: with ``reselect``, that of the candidate the criterion
    chooses on this replicate (Buckland, Burnham and Augustin 1997); otherwise the
    leading models' weighted average."""
    fits = [f for f in (fit_model(table, m.model, m.params) for m in leading)
            if f is not None]
    if not fits:
        return None
    if reselect:
        score = (lambda f: f.bic) if criterion == "bic" else (lambda f: f.aic)
        return min(fits, key=score).estimate
    return _averaged(fits, model_weights(fits, criterion))


def _candidates(fits: Sequence[ModelFit], weights: np.ndarray, reselect: bool,
                ) -> list[ModelFit]:
    """The models each replicate refits: the `RESELECT_MODELS` best of the search when
    the choice is remade on every replicate, else the three leading ones."""
    if reselect:
        return list(fits[:RESELECT_MODELS])
    return _leading(fits, weights)


def estimate_hidden(
    readings: Sequence[Sequence[CaptureTable]] | Sequence[CaptureTable],
    *,
    labels: Sequence[str] | None = None,
    strata: Sequence[str] = (),
    criterion: str = "bic",
    replicates: int = 200,
    seed: int = 2026,
    sensitivity: bool = True,
    reselect: bool = True,
    empirical: bool = True,
) -> HiddenEstimate:
    """The multiple-systems estimate of the total, its 95 % interval, warnings, sensitivity.

    ``readings``: the capture tables of one or more readings of the linkage (the persons
    as clustered, and draws of the uncertain links); each reading is either one table or a
    list of tables, one per stratum (their sum is the total). The point estimate is the
    first reading's model-averaged total; the interval is the 2.5-97.5 % range of a
    parametric bootstrap whose replicates are spread over the readings, so that it holds
    sampling, model choice and linkage uncertainty. With ``reselect`` (the default) each
    replicate chooses its model again by the criterion among the search's best candidates
    (Buckland, Burnham and Augustin 1997), so that the interval holds the uncertainty of
    the choice itself; without it, the three leading models are refitted and averaged.
    With ``empirical`` (the default) the replicates are drawn from the observed cells and
    the leading model's unseen cell; without it, from the leading model's fitted cells
    (a bootstrap that assumes the model true, too narrow when heterogeneity is left over).
    """
    if not readings:
        raise HiddenPopulationError("Aucune lecture du rapprochement à estimer.")
    groups = [tuple(r) if isinstance(r, list | tuple) else (r,) for r in readings]
    names = list(labels) if labels else (
        ["personnes rapprochées"] + [f"tirage {d}" for d in range(1, len(groups))])
    sources = groups[0][0].sources
    parsed: list[_Reading] = []
    for label, tables in zip(names, groups, strict=True):
        fits, weights = [], []
        for table in tables:
            if table.sources != sources:
                raise HiddenPopulationError("Toutes les lectures doivent avoir les mêmes sources.")
            found = candidate_models(table, criterion)
            if not found:
                raise HiddenPopulationError(
                    f"Aucun modèle log-linéaire n'a pu être ajusté ({label}) : trop peu de "
                    "personnes vues par plusieurs sources. Regroupez des strates ou des sources."
                )
            fits.append(tuple(found))
            weights.append(model_weights(found, criterion))
        parsed.append(_Reading(label, tuple(tables), tuple(fits), tuple(weights)))

    main = parsed[0]
    # The point is the mean over the readings (the clustering and its draws): a record whose
    # link is uncertain counts by its probability of being somebody seen only once.
    point = float(np.mean([
        sum(_averaged(f, w) for f, w in zip(r.fits, r.weights, strict=True)) for r in parsed
    ]))
    rng = np.random.default_rng(seed)
    totals = []
    for b in range(replicates):
        reading = parsed[b % len(parsed)]
        total = 0.0
        for table, fits, weights in zip(reading.tables, reading.fits, reading.weights,
                                        strict=True):
            best = fits[0]
            size = int(round(best.estimate))
            cells = best.fitted
            if empirical:
                # The observed cells as they are, the unseen one as the model predicts it:
                # the replicates keep what the model does not fit (Buckland, Burnham and
                # Augustin resample the data, not the fitted model).
                cells = np.concatenate([[best.unseen], table.counts[1:]])
            probabilities = cells / cells.sum()
            drawn = rng.multinomial(size, probabilities).astype(float)
            drawn[0] = 0.0
            value = _replicate_estimate(CaptureTable(sources, drawn),
                                        _candidates(fits, weights, reselect), criterion,
                                        reselect)
            total += best.estimate if value is None else value
        totals.append(total)
    # Cells more spread out than the Poisson model allows (catchability that no column of
    # the design captures) make a bootstrap drawn from the fitted model too narrow: widen it
    # by the square root of the variance inflation factor, as program MARK's c-hat does
    # (Pearson's chi-square over its degrees of freedom; never narrowed below 1).
    inflation = overdispersion(main)
    observed = sum(t.observed for t in main.tables)

    def interval(level: float) -> tuple[int, int]:
        tail = (100 - level) / 2
        low, high = (np.percentile(totals, [tail, 100 - tail]) if replicates
                     else (point, point))
        low, high = min(low, point), max(high, point)
        low = point - math.sqrt(inflation) * (point - low)
        high = point + math.sqrt(inflation) * (high - point)
        return int(math.floor(max(low, float(observed)))), int(math.ceil(high))

    shown = [parsed[0], *_extremes(parsed)] if len(parsed) > 1 else [parsed[0]]
    rows = ([row for reading in shown for row in _sensitivity(reading, criterion)]
            if sensitivity else [])

    model = (main.fits[0][0].model.label(sources) if len(main.tables) == 1
             else f"par strate ({len(main.tables)} strates)")
    return HiddenEstimate(
        observed=observed,
        estimate=int(round(point)),
        interval_95=interval(95),
        interval_90=interval(90),
        model=model,
        sources=sources,
        strata=tuple(strata),
        warnings=tuple(_warnings(main, sources)),
        sensitivity=tuple(rows),
        replicates=replicates,
        overdispersion=inflation,
    )


def overdispersion(reading: _Reading) -> float:
    """Variance inflation factor ĉ of a reading's leading models: Pearson's chi-square over
    the degrees of freedom, strata pooled, at least 1 (Burnham and Anderson 2002, §6.5)."""
    chi2 = sum(fits[0].pearson for fits in reading.fits)
    df = sum(fits[0].df for fits in reading.fits)
    if df <= 0 or not np.isfinite(chi2):
        return 1.0
    return max(1.0, chi2 / df)


def _sensitivity(reading: _Reading, criterion: str) -> list[SensitivityRow]:
    """Every model met on the reading's table, strata pooled, with its own interval."""
    sources = reading.tables[0].sources
    table = CaptureTable(sources, sum(t.counts for t in reading.tables))
    fits = candidate_models(table, criterion) if len(reading.tables) > 1 else reading.fits[0]
    weights = model_weights(fits, criterion)
    rows = []
    for rank, (fit, weight) in enumerate(zip(fits, weights, strict=True)):
        baseline = fit.model == LogLinearModel()
        if not baseline and (rank >= SENSITIVITY_MODELS or weight < 1e-3):
            continue
        try:
            low, high = profile_interval(table, fit)
        except Exception:  # noqa: BLE001 - an interval that cannot be bracketed
            low, high = math.nan, math.nan
        rows.append(SensitivityRow(reading.label, fit.model.label(sources), fit.estimate,
                                   low, high, float(weight)))
    return rows


def _extremes(parsed: Sequence[_Reading]) -> tuple[_Reading, _Reading]:
    """The readings of the linkage with the fewest and the most observed people."""
    by_size = sorted(parsed[1:], key=lambda r: sum(t.observed for t in r.tables))
    low, high = by_size[0], by_size[-1]
    return (
        _Reading("lecture basse du rapprochement", low.tables, low.fits, low.weights),
        _Reading("lecture haute du rapprochement", high.tables, high.fits, high.weights),
    )


def _warnings(reading: _Reading, sources: Sequence[str]) -> Iterable[str]:
    tables = reading.tables
    observed = sum(t.observed for t in tables)
    overlaps = sum(t.seen_twice for t in tables)
    if overlaps < MIN_OVERLAP:
        yield (f"Seulement {overlaps} personnes vues par au moins deux sources : l'estimation "
               "repose sur trop peu de recoupements pour être publiée.")
    only = {}
    for table in tables:
        for b, s in enumerate(sources):
            only[s] = only.get(s, 0) + int(table.counts[1 << b])
    top = max(only, key=only.get)
    if observed and only[top] / observed > DOMINANT_SHARE:
        yield (f"La source « {top} » voit seule {only[top] / observed:.0%} des personnes : "
               "l'estimation dépend presque entièrement de ses recoupements avec les autres.")
    for fits, weights in zip(reading.fits, reading.weights, strict=True):
        plausible = [f.estimate for f, w in zip(fits, weights, strict=True) if w >= 0.05]
        if len(plausible) > 1 and max(plausible) > DISAGREEMENT * min(plausible):
            yield (f"Les modèles plausibles divergent d'un facteur "
                   f"{max(plausible) / min(plausible):.1f} ({min(plausible):.0f} à "
                   f"{max(plausible):.0f}) : l'estimation est fragile.")
            break
    ratio = (sum(_averaged(f, w) for f, w in zip(reading.fits, reading.weights, strict=True))
             / max(observed, 1))
    if ratio > 5:
        yield (f"Le total estimé vaut {ratio:.1f} fois les personnes vues : vérifiez les "
               "recoupements (rapprochement trop strict ?) avant de l'utiliser.")


def _stratified(persons: pd.Series, sources: pd.Series, order: Sequence[str],
                stratum: pd.Series | None) -> list[CaptureTable]:
    if stratum is None:
        return [CaptureTable.from_memberships(persons, sources, order)]
    frame = pd.DataFrame({"person": persons.to_numpy(), "source": sources.to_numpy(),
                          "stratum": stratum.to_numpy()})
    # A person's stratum is the first one its records give (records may disagree).
    first = frame.dropna(subset=["stratum"]).groupby("person")["stratum"].first()
    frame["stratum"] = frame["person"].map(first).fillna("inconnu")
    return [CaptureTable.from_memberships(group["person"], group["source"], order)
            for _, group in frame.groupby("stratum", sort=True)]


POOLED = "autres strates"  # the stratum of the strata too thin for a model of their own


def _pooled_thin(persons: pd.Series, sources: pd.Series, order: Sequence[str],
                 stratum: pd.Series) -> pd.Series | None:
    """Each record's stratum, the strata with fewer than `MIN_OVERLAP` people seen twice
    merged into one pooled stratum; ``None`` when fewer than two strata would be left
    that can carry a model (one model for everybody then)."""
    values = stratum.astype(object)
    frame = pd.DataFrame({"person": persons.to_numpy(), "stratum": values.to_numpy()})
    # As `_stratified` reads it: a person's first known stratum, else "inconnu".
    first = frame.dropna(subset=["stratum"]).groupby("person")["stratum"].first()
    of_person = persons.map(first).fillna("inconnu")
    names = sorted(of_person.unique(), key=str)
    tables = dict(zip(names, _stratified(persons, sources, order, values), strict=True))
    thin = [name for name, table in tables.items() if table.seen_twice < MIN_OVERLAP]
    if not thin:
        return values if len(tables) >= 2 else None
    merged = values.where(~of_person.isin(thin), POOLED)
    left = _stratified(persons, sources, order, merged)
    if len(left) < 2 or min(t.seen_twice for t in left) < MIN_OVERLAP:
        return None
    return merged


def linkage_readings(
    links: pd.DataFrame,
    *,
    sources: Sequence[str] | None = None,
    stratum: str | None = None,
    draws: int = 20,
    seed: int = 2026,
) -> tuple[list[list[CaptureTable]], list[str], tuple[str, ...]]:
    """Capture tables of the linkage as clustered and of ``draws`` redrawn readings.

    ``links``: one row per record with ``person_id`` and ``source`` and, optionally,
    ``match_confidence`` (the record's best link inside its person, as `observatoire link`
    writes it) and ``expected_people`` (how many people the linkage expects the record's
    person to be). In each draw a record leaves its person, as somebody seen only there,
    with probability ``1 - match_confidence`` or, if higher, ``(e - 1) / (n - 1)`` for every
    record but the person's first (``e`` its expected people, ``n`` its records), so that
    a person splits on average into as many people as the linkage expects; a person whose
    expected people ``e`` is below 1 (perhaps a fragment of another) leaves the table with
    probability ``1 - e``. The uncertain links are the linkage's uncertainty.
    ``stratum`` names a column of ``links`` to fit one model per value; strata with fewer
    than `MIN_OVERLAP` people seen twice are pooled into one stratum of their own
    (`POOLED`), and when that leaves fewer than two strata able to carry a model, one model
    serves everybody (said in the returned strata, which are then empty).
    """
    missing = {"person_id", "source"} - set(links.columns)
    if missing:
        raise HiddenPopulationError(
            f"Colonnes absentes : {', '.join(sorted(missing))} (attendu : record_id, "
            "person_id, source, et facultativement match_confidence)."
        )
    frame = links.reset_index(drop=True)
    person = frame["person_id"].astype(str).where(frame["person_id"].notna()
                                                  & (frame["person_id"].astype(str) != ""))
    alone = "seul:" + frame.index.astype(str)
    person = person.fillna(pd.Series(alone, index=frame.index))
    order = tuple(sources) if sources else tuple(sorted(frame["source"].astype(str).unique()))
    values = _pooled_thin(person, frame["source"], order, frame[stratum]) if stratum else None
    used_strata: tuple[str, ...] = (stratum,) if values is not None else ()
    tables = _stratified(person, frame["source"], order, values)
    readings, labels = [tables], ["personnes rapprochées"]
    leave_probability = np.zeros(len(frame))
    if "match_confidence" in frame:
        confidence = pd.to_numeric(frame["match_confidence"], errors="coerce").fillna(1.0)
        leave_probability = (1.0 - confidence.clip(0.0, 1.0)).to_numpy()
    drop_probability = np.zeros(len(frame))
    if "expected_people" in frame:
        expected = pd.to_numeric(frame["expected_people"], errors="coerce").fillna(1.0)
        records = person.map(person.value_counts())
        split = ((expected - 1.0) / (records - 1.0).where(records > 1)).fillna(0.0)
        split = split.clip(0.0, 1.0).where(person.duplicated(), 0.0)
        leave_probability = np.maximum(leave_probability, split.to_numpy())
        # Below 1, the person may be a fragment of somebody already counted: it leaves the
        # table whole (its records most often repeat a source its true person has).
        drop_probability = (1.0 - expected.clip(0.0, 1.0)).to_numpy()
    if draws > 0 and (leave_probability.any() or drop_probability.any()):
        rng = np.random.default_rng(seed)
        codes = pd.factorize(person)[0]
        for d in range(1, draws + 1):
            leaves = rng.random(len(frame)) < leave_probability
            dropped = rng.random(codes.max() + 1)[codes] < drop_probability
            drawn = person.where(~leaves, pd.Series(alone, index=frame.index))
            drawn = drawn.where(~dropped)
            readings.append(_stratified(drawn, frame["source"], order, values))
            labels.append(f"tirage {d}")
    return readings, labels, used_strata


def estimate_from_links(links: pd.DataFrame, *, sources: Sequence[str] | None = None,
                        stratum: str | None = None, draws: int = 20, replicates: int = 200,
                        criterion: str = "bic", seed: int = 2026, reselect: bool = True,
                        sensitivity: bool = True) -> HiddenEstimate:
    """The multiple-systems estimate of records linked into persons (see
    `linkage_readings` and `estimate_hidden`)."""
    readings, labels, strata = linkage_readings(links, sources=sources, stratum=stratum,
                                                draws=draws, seed=seed)
    estimate = estimate_hidden(readings, labels=labels, strata=strata, criterion=criterion,
                               replicates=replicates, seed=seed, reselect=reselect,
                               sensitivity=sensitivity)
    if stratum and not strata:
        note = (f"Strates « {stratum} » trop petites (moins de {MIN_OVERLAP} personnes vues "
                "deux fois dans l'une d'elles) : un seul modèle pour toute la population.")
        estimate = dataclasses.replace(estimate, warnings=(note, *estimate.warnings))
    return estimate
