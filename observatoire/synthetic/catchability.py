"""Synthetic populations with people nobody sees: who each source catches, with the truth.

For the multiple-systems estimate (`observatoire.indicators.hidden`), what matters is not
names but *who is seen by which source*. Each person gets covariates (sex, age band, where
they sleep, time on the street) and a catchability; each source catches them with a
probability that depends on those (heterogeneity) and on the other sources (dependence: a
115 caller is likelier to be in SI-SIAO; outreach teams and the count night meet the same
rough sleepers). A share of people is seen by no source; the truth is known, so bias and
interval coverage can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatoire.model import SourceKind

SOURCES: tuple[str, ...] = (
    SourceKind.COUNT_NIGHT.value,
    SourceKind.SI_SIAO.value,
    SourceKind.APPELS_115.value,
    SourceKind.MARAUDE.value,
    SourceKind.ACCUEIL_JOUR.value,
)
SLEEPING = ("rue", "hebergement", "autre")
AGE_BANDS = ("18-29", "30-49", "50+")


@dataclass(frozen=True)
class CatchabilityScenario:
    """How a population is seen. ``heterogeneity`` and ``dependence`` switch the two
    violations of the independence model on and off; ``coverage`` scales every source."""

    people: int = 2000
    heterogeneity: bool = True
    dependence: bool = True
    coverage: float = 0.75  # multiplies the odds of being seen by each source
    frailty: float = 0.5  # spread (log-odds) of a catchability that no covariate explains
    seed: int = 0


# Base probability of each source catching somebody, before covariates (a sixth to a third).
_BASE = {"nuit": 0.22, "si_siao": 0.30, "appels_115": 0.25, "maraude": 0.20,
         "accueil_jour": 0.22}
# Log-odds effects of where a person sleeps (heterogeneity that strata can capture).
_SLEEPING_EFFECT = {
    "nuit": {"rue": 0.9, "hebergement": -0.9, "autre": -0.3},
    "si_siao": {"rue": -0.4, "hebergement": 0.9, "autre": 0.0},
    "appels_115": {"rue": 0.2, "hebergement": 0.3, "autre": -0.2},
    "maraude": {"rue": 1.0, "hebergement": -1.2, "autre": -0.2},
    "accueil_jour": {"rue": 0.4, "hebergement": -0.1, "autre": 0.0},
}
_GENERATION_ORDER = ("nuit", "appels_115", "si_siao", "maraude", "accueil_jour")


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def simulate_captures(scenario: CatchabilityScenario) -> pd.DataFrame:
    """One row per person of the population: covariates and one boolean column per source
    (``seen_<source>``). People seen by no source are in the frame, so the truth is its length.
    """
    rng = np.random.default_rng(scenario.seed)
    n = scenario.people
    sex = rng.choice(["M", "F"], size=n, p=[0.8, 0.2])
    age_band = rng.choice(AGE_BANDS, size=n, p=[0.3, 0.5, 0.2])
    sleeping = rng.choice(SLEEPING, size=n, p=[0.4, 0.45, 0.15])
    years = rng.exponential(1.5, size=n)  # time on the street
    frailty = (rng.normal(0.0, scenario.frailty, size=n) if scenario.heterogeneity
               else np.zeros(n))
    seen: dict[str, np.ndarray] = {}
    # The 115 before SI-SIAO and the night before outreach: the later depends on the earlier.
    for source in sorted(SOURCES, key=_GENERATION_ORDER.index):
        logit = np.full(n, _logit(_BASE[source]) + np.log(scenario.coverage))
        if scenario.heterogeneity:
            logit += np.vectorize(_SLEEPING_EFFECT[source].get)(sleeping)
            logit += 0.25 * np.minimum(years, 4) + frailty
            logit += np.where(sex == "F", -0.3, 0.0) + np.where(age_band == "50+", 0.3, 0.0)
        if scenario.dependence:
            if source == SourceKind.SI_SIAO.value:
                logit += np.where(seen[SourceKind.APPELS_115.value], 1.2, 0.0)
            if source == SourceKind.MARAUDE.value:
                logit += np.where(seen[SourceKind.COUNT_NIGHT.value], 0.9, 0.0)
        seen[source] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame({"person_id": np.arange(n), "sex": sex, "age_band": age_band,
                          "sleeping": sleeping, "years": years.round(2)})
    for source in SOURCES:
        frame[f"seen_{source}"] = seen[source]
    return frame


def seen_records(population: pd.DataFrame) -> pd.DataFrame:
    """One row per (person, source that saw them): what a linkage that made no error gives."""
    rows = []
    for source in SOURCES:
        people = population.loc[population[f"seen_{source}"], ["person_id", "sex", "age_band"]]
        rows.append(people.assign(source=source))
    return pd.concat(rows, ignore_index=True)
