"""The publication for officials: aggregated, disclosure-controlled figures only.

`build_publication` turns indicator inputs into a `Publication` whose every table has gone
through `observatoire.publish.disclosure`; the exports (`observatoire.publish.export`) and
the published pages only ever read a `Publication`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from observatoire.indicators import (
    IndicatorInputs,
    campaign_a_minima,
    campaign_profiles,
    campaign_table,
    commune_table,
    load_catalogue,
)
from observatoire.indicators.count import PLACE_KINDS, STREET_LABEL
from observatoire.publish.disclosure import (
    OTHER,
    PUBLISHED,
    TOTAL,
    DisclosureRules,
    protect_counts,
    protect_share,
)

METHODOLOGY = (
    "Les personnes sans abri ont été décomptées lors de la Nuit de la Solidarité : des "
    "équipes de bénévoles encadrées ont parcouru des secteurs qui ne se chevauchent pas, "
    "pendant une même plage horaire, et ont compté chaque personne rencontrée dans la rue. "
    "Au même moment, les partenaires ont décompté les personnes présentes dans les lieux où "
    "les équipes n'entrent pas (gares, métro, hôpitaux, parkings, campements et bois, "
    "parties communes des bailleurs sociaux). Le total est un minimum (a minima) : les "
    "personnes hébergées, cachées ou hors des secteurs parcourus n'y figurent pas. Les taux "
    "sont rapportés à la population municipale INSEE."
)
DISCLOSURE_NOTE = (
    "Secret statistique : aucune case de moins de {threshold} personnes n'est publiée. Les "
    "communes concernées sont regroupées dans « {other} », complétées si besoin par "
    "d'autres communes (secret secondaire) pour qu'aucune valeur masquée ne puisse être "
    "retrouvée par différence avec le total.{rounding}"
)
SOURCES = (
    ("Décompte de la Nuit de la Solidarité", "Observatoire du territoire et ses partenaires"),
    ("Contours des communes", "IGN ADMIN EXPRESS, Licence Ouverte 2.0"),
    ("Populations municipales", "INSEE, recensement de la population, Licence Ouverte 2.0"),
    ("Publication", "Licence Ouverte 2.0 (Etalab) : réutilisation libre avec mention de la source"),
)
SYNTHETIC_NOTE = "Données de démonstration : personnes fictives (échantillon synthétique)."


@dataclass
class Publication:
    """Everything published about one count night of a territory, already protected."""

    territory: str
    campaign: str
    night_date: dt.date
    rules: DisclosureRules
    key_figures: pd.DataFrame
    """``indicateur``, ``valeur`` (text as published), ``unite``."""
    communes: pd.DataFrame
    """``code``, ``nom``, ``population``, ``personnes`` (Int64, <NA> if secret),
    ``pour_10000``, ``statut``; then the merged and total rows (``code`` empty)."""
    places: pd.DataFrame
    """``libelle``, ``personnes``, ``statut``: street and kinds of places."""
    trend: pd.DataFrame
    """``campagne``, ``nuit``, ``personnes`` (Int64), ``evolution_pct``, ``precaution``."""
    profile: pd.DataFrame
    """``indicateur``, ``part`` (0-1 or <NA>)."""
    methodology: str = METHODOLOGY
    sources: tuple[tuple[str, str], ...] = SOURCES
    notes: list[str] = field(default_factory=list)

    @property
    def disclosure_note(self) -> str:
        rounding = (
            f" Les effectifs publiés sont arrondis au multiple de {self.rules.rounding}."
            if self.rules.rounding
            else ""
        )
        return DISCLOSURE_NOTE.format(
            threshold=self.rules.threshold, other=self.rules.other_label, rounding=rounding
        )

    def commune_cells(self) -> pd.DataFrame:
        """Only the commune rows (no merged or total row), for maps."""
        return self.communes[~self.communes["statut"].isin([OTHER, TOTAL])]


def _fmt(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "secret"
    return f"{int(value):,}".replace(",", "\u202f")


def build_publication(
    inputs: IndicatorInputs,
    campaign_id: int | None = None,
    rules: DisclosureRules | None = None,
    *,
    territory_name: str = "",
    synthetic: bool = False,
) -> Publication:
    """Protect and assemble the figures of one count night (the latest by default)."""
    rules = rules or DisclosureRules()
    if campaign_id is None:
        campaign_id = inputs.latest_campaign_id()
    if campaign_id is None:
        raise ValueError("Aucune nuit de comptage à publier pour ce territoire.")
    campaign = inputs.campaigns.set_index("campaign_id").loc[campaign_id]
    catalogue = load_catalogue()

    table = commune_table(inputs, campaign_id)
    communes = protect_counts(
        table, "personnes", "nom", rules, keep=("code",), sum_columns=("population",)
    )
    communes["pour_10000"] = (
        communes["personnes"].astype("Float64")
        / communes["population"].where(communes["population"] > 0)
        * 10_000
    ).round(1)
    communes = communes[["code", "nom", "population", "personnes", "pour_10000", "statut"]]

    count = campaign_a_minima(inputs, campaign_id)
    place_rows = pd.DataFrame(
        [(STREET_LABEL, count.street)]
        + [(PLACE_KINDS.get(k, k), v) for k, v in count.places.items()],
        columns=["libelle", "personnes"],
    )
    # Not "Autres lieux": that is the label of the partners' places of kind "autre".
    places = protect_counts(
        place_rows, "personnes", "libelle",
        DisclosureRules(rules.threshold, rules.rounding, "Lieux regroupés", "Total"),
    )  # fmt: skip

    total = communes.loc[communes["statut"] == TOTAL, "personnes"].iloc[0]
    population = int(table["population"].sum())
    rate = None if pd.isna(total) or not population else round(total / population * 10_000, 1)
    key_figures = pd.DataFrame(
        [
            (catalogue["a_minima_total"].label, _fmt(total), "personnes"),
            (catalogue["rate_per_10000"].label,
             "secret" if rate is None else f"{rate:.1f}".replace(".", ","), "pour 10 000 hab."),
            ("Population du territoire", _fmt(population), "habitants"),
            ("Communes", _fmt(len(table)), "communes"),
        ],
        columns=["indicateur", "valeur", "unite"],
    )  # fmt: skip

    trend_rows = campaign_table(inputs)
    trend_rows = trend_rows[pd.to_datetime(trend_rows["night_date"])
                            <= pd.Timestamp(campaign["night_date"])]  # fmt: skip
    published = [
        rules.publish_value(v) if v >= rules.threshold else pd.NA for v in trend_rows["total"]
    ]
    trend = pd.DataFrame(
        {
            "campagne": trend_rows["name"].to_numpy(),
            "nuit": trend_rows["night_date"].to_numpy(),
            "personnes": pd.array(published, dtype="Int64"),
            "precaution": trend_rows["caution"].to_numpy(),
        }
    )
    trend["evolution_pct"] = (
        trend["personnes"].astype("Float64").pct_change(fill_method=None) * 100
    ).round(1)

    shares = campaign_profiles(inputs, campaign_id)
    profile = pd.DataFrame(
        {
            "indicateur": [catalogue[i].label for i in shares["indicator"]],
            "part": pd.array(
                [protect_share(n, d, rules) for n, d in
                 zip(shares["numerator"], shares["denominator"], strict=True)],
                dtype="Float64",
            ),
        }
    )  # fmt: skip
    notes = [SYNTHETIC_NOTE] if synthetic else []
    return Publication(
        territory=territory_name,
        campaign=str(campaign["name"]),
        night_date=pd.Timestamp(campaign["night_date"]).date(),
        rules=rules,
        key_figures=key_figures,
        communes=communes.reset_index(drop=True),
        places=places[["libelle", "personnes", "statut"]],
        trend=trend,
        profile=profile,
        notes=notes,
    )


def published_cells(publication: Publication) -> list[int]:
    """Every count the publication shows (to check none is under the threshold)."""
    values: list[int] = []
    for frame in (publication.communes, publication.places, publication.trend):
        values += [int(v) for v in frame["personnes"].dropna()]
    return values


__all__ = ["PUBLISHED", "Publication", "build_publication", "published_cells"]
