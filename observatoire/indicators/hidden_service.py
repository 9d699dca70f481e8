"""The "iceberg" read from the database: counted on the night, known to partners, estimated
in all. What the staff pages and the yearly report call (like `evaluation.service`): the
computations live in `indicators.hidden`, `indicators.dedup` and `indicators.extrapolation`.

    layers = iceberg(engine, "dijon-metropole")   # None without linked persons
    layers.counted.value, layers.extrapolated.interval, layers.hidden.interval
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.hidden_method import HIDDEN_NOTE
from observatoire.indicators.extrapolation import METHOD_NOTE as EXTRAPOLATION_NOTE
from observatoire.indicators.hidden import HiddenEstimate, SensitivityRow
from observatoire.indicators.wording import HIDDEN_LABEL
from observatoire.model import ObservatoireError, SourceKind

# Modest settings so that a page stays fast (about ten seconds on the sample, cached): the
# command line uses the full ones (`REPORT_DRAWS`, `REPORT_REPLICATES`).
PAGE_DRAWS, PAGE_REPLICATES = 10, 100
REPORT_DRAWS, REPORT_REPLICATES = 20, 200

COUNTED_NOTE = (
    "Nombre de personnes sans abri rencontrées par les équipes dans les secteurs parcourus "
    "la nuit du comptage, plus celles que les partenaires ont décomptées dans leurs lieux "
    "(gares, parkings, campements…). C'est le chiffre officiel de la nuit : un minimum "
    "(a minima), car personne n'est compté là où aucune équipe n'est passée ni parmi les "
    "personnes cachées ou absentes cette nuit-là. Il ne porte que sur une nuit, quand les "
    "deux estimations suivantes portent sur toute la période des sources."
)
KNOWN_NOTE = (
    "Personnes distinctes vues par au moins une source sur la période (nuit de comptage, "
    "SI-SIAO, 115, maraudes, accueils de jour), après rapprochement des enregistrements "
    "pseudonymisés : chaque personne n'est comptée qu'une fois même si plusieurs sources "
    "l'ont rencontrée. La fourchette lit les confiances du rapprochement comme des "
    "probabilités (un groupe d'enregistrements incertain peut être deux personnes, un "
    "enregistrement seul peut appartenir à une autre personne). Ce chiffre ne compte que "
    "les personnes qu'un partenaire ou la nuit a vues."
)



def stored_links(engine: Engine, territory_slug: str) -> pd.DataFrame:
    """The territory's records with their source and person, for the hidden-population
    estimate (`observatoire estimate hidden --stored`)."""
    from sqlalchemy.orm import Session

    from observatoire.model import ObservatoireError
    from observatoire.store import indicators_repository

    with Session(engine) as session:
        links = indicators_repository.person_sources(session, territory_slug)
    if links.empty or not (links["person_id"] != "").any():
        raise ObservatoireError(
            "Aucune personne rapprochée dans la base : lancez d'abord "
            "`observatoire link --stored`."
        )
    return links


@dataclass(frozen=True)
class IcebergLayer:
    """One layer of the iceberg: its figure, its interval at ``level`` % (``None`` for a
    count, which is exact by definition) and a one-paragraph French method note; ``label``
    is short (a tile), ``title`` says it in full (the note's heading). The distinct people
    known carry the linkage run's 90 % interval (the figure every page shows), the
    estimates of the count night and of everybody a 95 % one."""

    label: str
    value: int
    interval: tuple[int, int] | None
    note: str
    is_estimate: bool
    title: str
    level: int = 95


@dataclass(frozen=True)
class Iceberg:
    """The three layers, from the people counted on one night to the estimate in all."""

    counted: IcebergLayer | None  # the latest night's a minima count (None: no night)
    extrapolated: IcebergLayer | None  # the same night, sectors not walked estimated
    known: IcebergLayer | None  # distinct people known (None before any linkage run)
    hidden: IcebergLayer  # the multiple-systems estimate of everybody
    night_name: str | None
    night_date: dt.date | None
    sources: tuple[str, ...]  # French labels of the sources of the estimate
    warnings: tuple[str, ...]
    sensitivity: pd.DataFrame  # one row per model and reading of the linkage (French)
    estimate: HiddenEstimate

    @property
    def layers(self) -> list[IcebergLayer]:
        return [layer for layer in (self.counted, self.extrapolated, self.known, self.hidden)
                if layer is not None]


def hidden_estimate(engine: Engine, territory_slug: str, *, draws: int = REPORT_DRAWS,
                    replicates: int = REPORT_REPLICATES) -> HiddenEstimate | None:
    """The multiple-systems estimate of the territory's linked records, or ``None`` when the
    database holds no linked person."""
    from observatoire.indicators.hidden import estimate_from_links

    try:
        links = stored_links(engine, territory_slug)
    except ObservatoireError:
        return None
    return estimate_from_links(links, draws=draws, replicates=replicates)


def sensitivity_table(rows: tuple[SensitivityRow, ...]) -> pd.DataFrame:
    """The sensitivity rows as a French table (estimate and interval rounded)."""
    return pd.DataFrame(
        [{"Lecture du rapprochement": r.reading, "Estimation": round(r.estimate),
          "Borne basse (95 %)": _rounded(r.low), "Borne haute (95 %)": _rounded(r.high),
          "Poids (BIC)": round(r.weight, 3), "Modèle": r.model}
         for r in rows],
        # The model's label is long (its interactions): last, so the figures stay in view.
        columns=["Lecture du rapprochement", "Estimation", "Borne basse (95 %)",
                 "Borne haute (95 %)", "Poids (BIC)", "Modèle"],
    )  # fmt: skip


def _rounded(value: float) -> float | int:
    return value if pd.isna(value) else round(value)


def iceberg(engine: Engine, territory_slug: str, *, draws: int = PAGE_DRAWS,
            replicates: int = PAGE_REPLICATES) -> Iceberg | None:
    """The three layers of the territory, or ``None`` when no person is linked (nothing to
    estimate from): the latest count night's *a minima* count with its extrapolated total
    beside it (an estimate), the distinct people known to the sources, and the multiple-
    systems estimate of everybody, each with its interval and method note."""
    from observatoire.countnight.coverage import coverage_extrapolation
    from observatoire.indicators import IndicatorInputs, campaign_table
    from observatoire.store import feed_aggregates
    from observatoire.store.indicators_repository import load_inputs

    hidden = hidden_estimate(engine, territory_slug, draws=draws, replicates=replicates)
    if hidden is None:
        return None
    with Session(engine) as session:
        inputs = IndicatorInputs(**load_inputs(session, territory_slug, with_feeds=False))
        distinct = feed_aggregates.distinct_estimate(session, territory_slug)

    nights = campaign_table(inputs)
    counted = extrapolated = None
    night_name = night_date = None
    if not nights.empty:
        latest = nights.sort_values("night_date").iloc[-1]
        night_name, night_date = str(latest["name"]), pd.Timestamp(latest["night_date"]).date()
        total = int(latest["total"])
        counted = IcebergLayer("Décomptées la nuit (a minima)", total, None,
                               COUNTED_NOTE, is_estimate=False,
                               title="Personnes décomptées la nuit du comptage (a minima)")
        # The extrapolation covers the sectors (street count); the partners' places are
        # tallied whole, so its additions go on top of the night's full a minima total.
        extra = coverage_extrapolation(engine, int(latest["campaign_id"]))
        low, high = extra.interval_95
        extrapolated = IcebergLayer(
            "Nuit, total extrapolé",
            total + extra.estimate - extra.counted,
            (total + low - extra.counted, total + high - extra.counted),
            EXTRAPOLATION_NOTE, is_estimate=True,
            title="Total extrapolé de la nuit (secteurs non parcourus estimés)",
        )  # fmt: skip
    known = None if distinct is None else IcebergLayer(
        "Connues des partenaires", distinct.estimate, (distinct.low, distinct.high),
        KNOWN_NOTE, is_estimate=True,
        title="Personnes connues de la nuit et des partenaires (dédoublonnées)", level=90)
    everybody = IcebergLayer("Estimées en tout", hidden.estimate,
                             hidden.interval_95, HIDDEN_NOTE, is_estimate=True,
                             title=HIDDEN_LABEL)  # the publication's name of it too
    return Iceberg(
        counted=counted, extrapolated=extrapolated, known=known, hidden=everybody,
        night_name=night_name, night_date=night_date,
        sources=tuple(SourceKind.choices().get(s, s) for s in hidden.sources),
        warnings=hidden.warnings, sensitivity=sensitivity_table(hidden.sensitivity),
        estimate=hidden,
    )
