"""Count-night indicators: the *a minima* total, per commune and per 10,000 inhabitants,
profile shares and sector coverage. Pure functions over documented DataFrames.

Inputs (extra columns are ignored, missing optional columns read as "unknown"):

``observations`` (one row per person met by a street team): ``commune_code``, ``situation``
(`ContactSituation` values) and, when known, ``sector_code``, ``sex`` (F/M), ``age_band``
(``moins de 18``, ``18-24``, ... ``65 et plus``), ``sleeping_place``, ``household``
(alone/couple/with_children), ``children_count``, ``homeless_duration``
(moins_3_mois/3_12_mois/1_5_ans/plus_5_ans), ``calls_115`` (jamais/parfois/souvent).

``place_tallies`` (people counted by partners in places street teams do not enter):
``place_kind`` (see `PLACE_KINDS`; common aliases accepted), ``people`` (int) and optionally
``commune_code`` (empty when the partner reports for the whole territory).

``communes``: ``code``, ``nom``, ``population``.

``sectors`` (planned sectors): ``sector_code``, ``commune_code``; ``sector_reports``:
``sector_code``, ``people_met`` (a walked sector with nobody met reports 0).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import pandas as pd

from observatoire.model import ContactSituation

PLACE_KINDS: dict[str, str] = {
    "campement": "Campements, talus et parcs",
    "metro": "Métro",
    "bois": "Bois",
    "gare": "Gares",
    "hopital": "Hôpitaux",
    "parking": "Parkings",
    "bailleur_social": "Bailleurs sociaux",
    "squat": "Squats",
    "bidonville": "Bidonvilles",
    "autre": "Autres lieux",
}
"""Kinds of places counted by partners on the night, with their French labels."""

_PLACE_ALIASES = {
    "camp": "campement", "camps": "campement", "campements": "campement",
    "campement_talus_parc": "campement", "talus": "campement", "parc": "campement",
    "parcs": "campement", "berges": "campement", "jardin": "campement",
    "camps_embankments_parks": "campement", "tente_campement": "campement",
    "subway": "metro", "métro": "metro", "woods": "bois", "wood": "bois", "forest": "bois",
    "station": "gare", "stations": "gare", "gares": "gare", "train_station": "gare",
    "hospital": "hopital", "hospitals": "hopital", "hôpital": "hopital", "hopitaux": "hopital",
    "car_park": "parking", "car_parks": "parking", "parkings": "parking",
    "social_landlord": "bailleur_social", "social_landlords": "bailleur_social",
    "bailleur": "bailleur_social", "bailleurs": "bailleur_social",
    "bailleurs_sociaux": "bailleur_social", "other": "autre",
    # Squats and bidonvilles are counted apart (the conventions name them): never camps.
    "squats": "squat", "immeuble_occupe": "squat", "bidonvilles": "bidonville",
    "slum": "bidonville", "slums": "bidonville", "squatted_building": "squat",
}  # fmt: skip

STREET_LABEL = "Rue (équipes bénévoles)"


def place_kind(value: object) -> str:
    """The `PLACE_KINDS` key of a partner's place label (``autre`` when unknown)."""
    text = _slug(value)
    if text in PLACE_KINDS:
        return text
    return _PLACE_ALIASES.get(text) or _LABEL_KINDS.get(text, "autre")


def _slug(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


_LABEL_KINDS = {_slug(label): kind for kind, label in PLACE_KINDS.items()}


@dataclass(frozen=True)
class AMinima:
    """The published *a minima* count: street teams plus places counted by partners."""

    street: int
    places: dict[str, int] = field(default_factory=dict)

    @property
    def partners(self) -> int:
        return sum(self.places.values())

    @property
    def total(self) -> int:
        return self.street + self.partners

    def breakdown(self) -> pd.DataFrame:
        """``lieu`` (key), ``libelle``, ``personnes``: the street first, then places by size."""
        rows = [("rue", STREET_LABEL, self.street)] + sorted(
            ((k, PLACE_KINDS.get(k, k), v) for k, v in self.places.items()),
            key=lambda r: -r[2],
        )
        return pd.DataFrame(rows, columns=["lieu", "libelle", "personnes"])


def street_count(observations: pd.DataFrame) -> int:
    """People met by street teams: every row except "already answered tonight" (a person
    met twice says so, and is counted once)."""
    if observations.empty:
        return 0
    return int((observations["situation"] != ContactSituation.ALREADY_ANSWERED.value).sum())


def a_minima(street: int | pd.DataFrame, place_tallies: pd.DataFrame | None = None) -> AMinima:
    """The *a minima* count from the street count (or the observations) and partner tallies."""
    if isinstance(street, pd.DataFrame):
        street = street_count(street)
    places: dict[str, int] = {}
    if place_tallies is not None and not place_tallies.empty:
        kinds = place_tallies["place_kind"].map(place_kind)
        totals = place_tallies["people"].fillna(0).astype(int).groupby(kinds).sum()
        places = {k: int(v) for k, v in totals.items()}
    if street < 0 or any(v < 0 for v in places.values()):
        raise ValueError("Un décompte ne peut pas être négatif : vérifiez les décomptes saisis.")
    return AMinima(int(street), places)


def counts_by_commune(
    observations: pd.DataFrame,
    communes: pd.DataFrame,
    place_tallies: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per commune: ``code``, ``nom``, ``population``, ``rue``, ``lieux``, ``personnes``
    (a minima) and ``pour_10000``. Partner tallies without a commune are left out of the
    communes (they stay in the territory's total)."""
    frame = pd.DataFrame(communes[["code", "nom", "population"]]).copy()
    if observations.empty:
        street = pd.Series(dtype="int64")
    else:
        kept = observations[observations["situation"] != ContactSituation.ALREADY_ANSWERED.value]
        street = kept.groupby("commune_code").size()
    frame["rue"] = frame["code"].map(street).fillna(0).astype(int)
    places = pd.Series(dtype="int64")
    if place_tallies is not None and not place_tallies.empty and "commune_code" in place_tallies:
        located = place_tallies[place_tallies["commune_code"].fillna("").astype(str) != ""]
        places = located.groupby("commune_code")["people"].sum()
    frame["lieux"] = frame["code"].map(places).fillna(0).astype(int)
    frame["personnes"] = frame["rue"] + frame["lieux"]
    frame["pour_10000"] = rate_per_10000(frame["personnes"], frame["population"])
    return frame.reset_index(drop=True)


def rate_per_10000(people: pd.Series | int, population: pd.Series | int) -> pd.Series | float:
    """People per 10,000 inhabitants (NaN where the population is zero or unknown)."""
    if isinstance(population, pd.Series):
        return people / population.where(population > 0) * 10_000
    return float(people) / population * 10_000 if population else float("nan")


# --- profiles --------------------------------------------------------------------------------

_MINOR = {"moins de 18", "moins_18", "<18", "0-17"}
_YOUNG = {"18-24", "18_24"}
_OLD = {"65 et plus", "65+", "65_plus", "60 et plus", "60+", "60_plus"}
_HALF_OLD = {"55-64", "55_64"}  # half of the band is 60 or over (uniform ages assumed)
_ALONE = {"alone", "seul", "seule", "personne_seule", "isole", "isolé"}
_WITH_CHILDREN = {"with_children", "famille", "avec_enfants", "famille_avec_enfants"}
_OVER_YEAR = {"1_5_ans", "plus_5_ans", "plus_1_an", "plus_d_un_an"}
_NEVER = {"jamais", "never"}
_TENT_CAR = {"tente_campement", "tente", "campement", "voiture", "vehicule", "véhicule"}

def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="object")
    cleaned = [
        None if v is None or v is pd.NA or v != v or str(v).strip() == "" else str(v).strip()
        for v in frame[name].tolist()
    ]
    return pd.Series(cleaned, index=frame.index, dtype="object")


def profile_shares(observations: pd.DataFrame) -> pd.DataFrame:
    """Profile shares among people met (already-answered rows excluded).

    Columns: ``indicator`` (catalogue id), ``numerator``, ``denominator`` (people for whom
    the field is known) and ``share`` (0-1, NaN when nobody is known).
    """
    people = observations
    if not people.empty:
        people = people[people["situation"] != ContactSituation.ALREADY_ANSWERED.value]
    sex = _column(people, "sex")
    age = _column(people, "age_band")
    household = _column(people, "household").str.lower()
    children = pd.to_numeric(_column(people, "children_count"), errors="coerce")
    duration = _column(people, "homeless_duration")
    calls = _column(people, "calls_115").str.lower()
    place = _column(people, "sleeping_place")

    minor_or_family = age.isin(_MINOR) | household.isin(_WITH_CHILDREN) | (children > 0)
    known_family = age.notna() | household.notna() | children.notna()
    rows = [
        ("share_women", (sex == "F").sum(), sex.notna().sum()),
        ("share_minors_families", (minor_or_family & known_family).sum(), known_family.sum()),
        ("share_18_24", age.isin(_YOUNG).sum(), age.notna().sum()),
        ("share_60_plus", age.isin(_OLD).sum() + 0.5 * age.isin(_HALF_OLD).sum(),
         age.notna().sum()),
        ("share_alone", household.isin(_ALONE).sum(), household.notna().sum()),
        ("share_over_one_year", duration.isin(_OVER_YEAR).sum(), duration.notna().sum()),
        ("share_never_115", calls.isin(_NEVER).sum(), calls.notna().sum()),
        ("share_tent_car", place.isin(_TENT_CAR).sum(), place.notna().sum()),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["indicator", "numerator", "denominator"])
    frame["numerator"] = frame["numerator"].astype(float)
    frame["denominator"] = frame["denominator"].astype(int)
    frame["share"] = frame["numerator"] / frame["denominator"].where(frame["denominator"] > 0)
    return frame


# --- coverage ---------------------------------------------------------------------------------


def sector_coverage(sectors: pd.DataFrame, sector_reports: pd.DataFrame) -> pd.DataFrame:
    """Per commune: ``commune_code``, ``prevus``, ``parcourus``, ``sans_personne``,
    ``non_couverts`` (codes of sectors without a report) and ``couverture`` (0-1)."""
    columns = ["commune_code", "prevus", "parcourus", "sans_personne", "non_couverts",
               "couverture"]  # fmt: skip
    if sectors.empty:
        return pd.DataFrame(columns=columns)
    reported = set(sector_reports["sector_code"]) if not sector_reports.empty else set()
    zero = (
        set(sector_reports.loc[sector_reports["people_met"] == 0, "sector_code"])
        if not sector_reports.empty
        else set()
    )
    rows = []
    for commune, group in sectors.groupby("commune_code", sort=True):
        codes = list(group["sector_code"])
        walked = [c for c in codes if c in reported]
        rows.append(
            (
                commune,
                len(codes),
                len(walked),
                sum(c in zero for c in codes),
                sorted(set(codes) - reported),
                len(walked) / len(codes),
            )
        )
    return pd.DataFrame(rows, columns=columns)
