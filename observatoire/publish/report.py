"""The publication for officials: aggregated, disclosure-controlled figures only.

`build_publication` turns indicator inputs into a `Publication` whose every table has gone
through `observatoire.publish.disclosure`; the exports (`observatoire.publish.export`) and
the published pages only ever read a `Publication`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import pandas as pd

from observatoire.formats_fr import count_fr
from observatoire.indicators import (
    IndicatorInputs,
    campaign_a_minima,
    campaign_profiles,
    campaign_table,
    commune_table,
    load_catalogue,
)
from observatoire.indicators.count import PLACE_KINDS, STREET_LABEL
from observatoire.indicators.dedup import PeopleFigure
from observatoire.indicators.wording import (
    HIDDEN_LABEL,
    estimate_label,
    estimate_text,
    hidden_text,
)
from observatoire.publish.disclosure import (
    OTHER,
    PUBLISHED,
    TOTAL,
    DisclosureRules,
    protect_counts,
    protect_interval,
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
# The tables of a publication and the types of their nullable columns (as stored in JSON).
_TABLES = {
    "key_figures": {},
    "communes": {"population": "Int64", "personnes": "Int64", "pour_10000": "Float64"},
    "places": {"personnes": "Int64"},
    "trend": {"personnes": "Int64"},
    "profile": {"part": "Float64"},
}
NO_EARLIER_NIGHT = "première nuit"
UNLOCATED_LABEL = "Commune non renseignée"
# The de-duplicated estimate: its name and wording are `observatoire.indicators.wording`'s.
DEDUP_LABEL = estimate_label()
ESTIMATE_LABELS = (DEDUP_LABEL, HIDDEN_LABEL)
"""Key figures that are estimates with their interval (long: a line of their own)."""
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
    summary: dict[str, int] = field(default_factory=dict)
    """Headline figures of the night's fieldwork (sectors walked, teams): not counts of
    people, published as they are."""
    version: int | None = None
    published_at: dt.datetime | None = None
    author: str | None = None

    @property
    def data_note(self) -> str:
        """"Données au …" of a published version (empty before publication)."""
        if self.published_at is None:
            return "Version de travail, non publiée."
        return (f"Données au {self.published_at:%d/%m/%Y} (version {self.version}, "
                f"publiée par {self.author}).")  # fmt: skip

    def to_figures(self) -> dict:
        """The publication as JSON-ready data, to store with a published version."""
        def frame(f: pd.DataFrame) -> dict:
            return json.loads(f.to_json(orient="split", index=False, date_format="iso"))

        return {
            "territory": self.territory, "campaign": self.campaign,
            "night_date": self.night_date.isoformat(),
            "rules": dataclasses.asdict(self.rules),
            "tables": {name: frame(getattr(self, name)) for name in _TABLES},
            "methodology": self.methodology, "sources": [list(s) for s in self.sources],
            "notes": list(self.notes), "summary": dict(self.summary),
        }  # fmt: skip

    @classmethod
    def from_figures(cls, figures: dict, *, version: int | None = None,
                     published_at: dt.datetime | None = None,
                     author: str | None = None) -> Publication:  # fmt: skip
        """A stored version read back: the same tables, the same types."""
        tables = {}
        for name, kinds in _TABLES.items():
            stored = figures["tables"][name]
            f = pd.DataFrame(stored["data"], columns=stored["columns"])
            for column, kind in kinds.items():
                if column in f:
                    f[column] = f[column].astype(kind)
            if "nuit" in f:
                f["nuit"] = pd.to_datetime(f["nuit"]).dt.date
            tables[name] = f
        return cls(
            territory=figures["territory"], campaign=figures["campaign"],
            night_date=dt.date.fromisoformat(figures["night_date"]),
            rules=DisclosureRules(**figures["rules"]), **tables,
            methodology=figures["methodology"],
            sources=tuple(tuple(s) for s in figures["sources"]),
            notes=list(figures["notes"]), summary=dict(figures.get("summary", {})),
            version=version, published_at=published_at, author=author,
        )  # fmt: skip

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

    @property
    def total(self) -> int | None:
        """The night's *a minima* total as published (``None``: secret)."""
        value = self.communes.loc[self.communes["statut"] == TOTAL, "personnes"].iloc[0]
        return None if pd.isna(value) else int(value)

    def secret_codes(self) -> set[str]:
        """The communes this version keeps secret: a correction keeps them secret too."""
        cells = self.commune_cells()
        return {str(c) for c, s in zip(cells["code"], cells["statut"], strict=True)
                if s != PUBLISHED and isinstance(c, str) and c}  # fmt: skip

    def commune_cells(self) -> pd.DataFrame:
        """Only the commune rows (no merged or total row), for maps."""
        return self.communes[~self.communes["statut"].isin([OTHER, TOTAL])]

    def night_figures(self) -> dict:
        """The night's figures as this version publishes them, what the yearly report
        reads: ``name``, ``night_date``, ``rue`` (street count), ``lieux`` (partners'
        places: the places table's total minus the street, both public), ``total`` (*a
        minima*), ``None`` where secret; ``distinct`` and ``hidden``: the de-duplicated
        estimate and the estimate of everybody as published (text with their interval),
        ``None`` when the version does not hold them."""
        places = self.places.set_index("libelle")["personnes"]
        street = places.get(STREET_LABEL)
        street = None if street is None or pd.isna(street) else int(street)
        total_row = self.places.loc[self.places["statut"] == TOTAL, "personnes"]
        in_places = (None if total_row.empty or pd.isna(total_row.iloc[0])
                     else int(total_row.iloc[0]))  # fmt: skip
        key = self.key_figures.set_index("indicateur")["valeur"]
        return {
            "name": self.campaign, "night_date": self.night_date, "rue": street,
            "lieux": None if street is None or in_places is None else in_places - street,
            "total": self.total, "distinct": key.get(DEDUP_LABEL),
            "hidden": key.get(HIDDEN_LABEL),
        }  # fmt: skip


def _fmt(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "secret"
    return count_fr(value)


def build_publication(
    inputs: IndicatorInputs,
    campaign_id: int | None = None,
    rules: DisclosureRules | None = None,
    *,
    territory_name: str = "",
    synthetic: bool = False,
    public_nights: set[int] | None = None,
    published_totals: Mapping[int, int | None] | None = None,
    keep_secret: Collection[str] = (),
    summary: dict[str, int] | None = None,
    estimate: tuple[int, int, int] | None = None,
    hidden: tuple[float, float] | None = None,
    street_records: pd.DataFrame | None = None,
    perturbation_key: bytes | None = None,
) -> Publication:
    """Protect and assemble the figures of one count night (the latest by default).

    ``public_nights``: the nights already published, the only earlier ones the trend shows
    (all when ``None``); ``published_totals``: the same nights with the total their latest
    published version shows (``None``: secret), which the trend then reads;
    ``keep_secret``: commune codes an earlier version of this night kept secret, kept
    secret in this one (the two versions stay public: one must not show what the other
    hides). ``summary``: the fieldwork figures shown beside (sectors walked...).
    ``hidden``: the 95 % interval of the multiple-systems estimate of everybody
    (`observatoire.indicators.hidden`), published only as an interval through
    `protect_interval`, its method in the methodology; left out when ``None``.
    """
    rules = rules or DisclosureRules()
    if campaign_id is None:
        campaign_id = inputs.latest_campaign_id()
    if campaign_id is None:
        raise ValueError("Aucune nuit de comptage à publier pour ce territoire.")
    campaign = inputs.campaigns.set_index("campaign_id").loc[campaign_id]
    catalogue = load_catalogue()

    table = commune_table(inputs, campaign_id)
    count = campaign_a_minima(inputs, campaign_id)
    unlocated = int(count.total) - int(table["personnes"].sum())
    if unlocated > 0:
        # Partner places of no known commune get a row of their own, protected with the
        # communes: the communes' total then equals the places' total (417 vs 416 would
        # expose them).
        table = pd.concat([table, pd.DataFrame([{
            "code": "", "nom": UNLOCATED_LABEL, "population": 0, "rue": 0,
            "lieux": unlocated, "personnes": unlocated}])], ignore_index=True)  # fmt: skip
    place_rows = pd.DataFrame(
        [(STREET_LABEL, count.street)]
        + [(PLACE_KINDS.get(k, k), v) for k, v in count.places.items()],
        columns=["libelle", "personnes"],
    )
    methodology = METHODOLOGY
    if rules.perturbation:
        from observatoire.publish import perturbation

        table, place_rows = perturbation.perturb_night(
            table, place_rows, street_records, inputs.of_campaign("place_tallies", campaign_id),
            campaign_id, perturbation_key, rules.threshold,
        )  # fmt: skip
        methodology = f"{METHODOLOGY} {perturbation.method_note()}"
    communes = protect_counts(
        table, "personnes", "nom", rules, keep=("code",), sum_columns=("population",),
        secret=table["code"].isin(set(keep_secret)).to_numpy(),
    )
    communes["pour_10000"] = (
        communes["personnes"].astype("Float64")
        / communes["population"].where(communes["population"] > 0)
        * 10_000
    ).round(1)
    communes = communes[["code", "nom", "population", "personnes", "pour_10000", "statut"]]

    # Not "Autres lieux": that is the label of the partners' places of kind "autre".
    places = protect_counts(
        place_rows, "personnes", "libelle",
        DisclosureRules(rules.threshold, rules.rounding, "Lieux regroupés", "Total",
                        rules.perturbation),
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
    if estimate is not None:
        key_figures.loc[len(key_figures)] = (DEDUP_LABEL, estimate_text(PeopleFigure(*estimate)),
                                              "personnes")  # fmt: skip
    interval = None if hidden is None else protect_interval(*hidden, rules)
    if interval is not None:
        from observatoire.hidden_method import HIDDEN_NOTE

        key_figures.loc[len(key_figures)] = (HIDDEN_LABEL, hidden_text(*interval),
                                              "personnes")  # fmt: skip
        methodology = (f"{methodology} {HIDDEN_LABEL} : {HIDDEN_NOTE} Publiée en intervalle "
                       f"seulement, bornes élargies à la dizaine ; c'est une estimation sur "
                       "toute la période des sources, pas un décompte de la nuit.")

    trend_rows = campaign_table(inputs)
    trend_rows = trend_rows[pd.to_datetime(trend_rows["night_date"])
                            <= pd.Timestamp(campaign["night_date"])]  # fmt: skip
    if published_totals is not None:
        public_nights = set(published_totals)
    if public_nights is not None:
        # Only published nights (and this one) are public: an open night's live count
        # never joins the trend.
        trend_rows = trend_rows[trend_rows["campaign_id"].isin({*public_nights, campaign_id})]
    published = [
        # Zero reveals nobody (and is published in the night's own tables).
        rules.publish_value(v) if v == 0 or v >= rules.threshold else pd.NA
        for v in trend_rows["total"]
    ]
    if published_totals is not None:
        # An earlier night reads as its published version shows it (secret stays secret):
        # recomputed from today's data, a late tally would make the trend differ from the
        # night's own tables, and the difference expose the people it adds.
        published = [
            published_totals[c] if c in published_totals and c != campaign_id else v
            for c, v in zip(trend_rows["campaign_id"], published, strict=True)
        ]
        published = [pd.NA if v is None else v for v in published]
    trend = pd.DataFrame(
        {
            "campagne": trend_rows["name"].to_numpy(),
            "nuit": trend_rows["night_date"].to_numpy(),
            "personnes": pd.array(published, dtype="Int64"),
            "precaution": trend_rows["caution"].to_numpy(),
        }
    )
    if rules.perturbation:
        # This night's total as published in its tables (perturbed), not the raw count.
        trend.loc[trend["campagne"] == str(campaign["name"]), "personnes"] = total
    trend["evolution_pct"] = _changes(trend["personnes"])

    shares = campaign_profiles(inputs, campaign_id)
    profile = pd.DataFrame(
        {
            "indicateur": [catalogue[i].label for i in shares["indicator"]],
            "part": pd.array(
                [_rounded_share(protect_share(n, d, rules)) for n, d in
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
        methodology=methodology,
        notes=notes,
        summary=dict(summary or {}),
    )


def _rounded_share(share: float | None) -> float | None:
    """A share to whole percents: at full precision, times a published total, it would give
    back the count it hides (28/299 women and 307 people give 8 with no sex recorded)."""
    return None if share is None else round(share, 2)


def _changes(people: pd.Series) -> list[str]:
    """Year-on-year change as published: "première nuit" for the first (nothing earlier),
    "secret" when either count is, else the change in percent (French decimal comma)."""
    out = []
    for i, value in enumerate(people):
        if i == 0:
            out.append(NO_EARLIER_NIGHT)
            continue
        before = people.iloc[i - 1]
        if pd.isna(value) or pd.isna(before) or not before:
            out.append("secret")
            continue
        change = (int(value) - int(before)) / int(before) * 100
        out.append(f"{change:+.1f} %".replace(".", ","))
    return out


def published_cells(publication: Publication) -> list[int]:
    """Every count the publication shows (to check none is under the threshold)."""
    values: list[int] = []
    for frame in (publication.communes, publication.places, publication.trend):
        values += [int(v) for v in frame["personnes"].dropna()]
    return values


__all__ = ["PUBLISHED", "Publication", "build_publication", "published_cells"]
