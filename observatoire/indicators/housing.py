"""*Logement d'abord* indicators from partner feeds, and the distance to the convention's
targets.

Inputs:

``orientations`` (SI-SIAO requests): ``date`` (request or orientation date), ``orientation``
(e.g. "Logement social", "Logement adapté (IML)", "Pension de famille", "CHRS"...),
``status`` ("Orientée" when the orientation happened), optionally ``person_id``.

``calls_115`` (115 call log): ``date``, ``answer`` ("Pas de place", "Sans solution",
"Hébergé(e)"...), optionally ``motive`` (only "Demande d'hébergement" calls count when given).

``values`` (figures entered by staff or computed): ``indicator_id``, ``year``, ``value``;
``targets`` (from the territory's convention): ``indicator_id``, ``year``, ``target``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pandas as pd

from observatoire.indicators.catalogue import Catalogue, load_catalogue

# Orientation labels that mean a move to housing, and which indicator they feed.
_HOUSING_KINDS = {
    "logement social": "social_housing_allocations",
    "logement adapte (iml)": "iml",
    "iml": "iml",
    "intermediation locative": "iml",
    "pension de famille": "pension_famille",
    "residence accueil": "pension_famille",
    "logement adapte": "logement_adapte",
    "bail glissant": "logement_adapte",
}
_DONE = {"orientee", "orientée", "acceptee", "admis", "admise", "entree", "realisee"}
# Labels as partners write them and the codes the shipped 115 format stores them as
# (`feeds/formats/appels_115.yaml`: "Pas de place" -> demande_non_pourvue, "Demande
# d'hébergement" -> hebergement).
_UNANSWERED = {"pas de place", "sans solution", "non pourvue", "demande non pourvue",
               "demande_non_pourvue"}
_SHELTER_REQUESTS = {"demande d'hebergement", "hebergement"}


def _plain(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode()
    return " ".join(text.lower().split())


_DONE_PLAIN = frozenset(_plain(s) for s in _DONE)


def _map_each_value(values: pd.Series, function: Callable[[object], object]) -> pd.Series:
    """``values.map(function)``, calling ``function`` once per distinct value: a partner
    column repeats a few labels over hundreds of thousands of rows."""
    results: dict[tuple[type, object], object] = {}

    def once(value: object) -> object:
        key = (type(value), value)  # 1 and True are equal keys, not equal labels
        try:
            return results[key] if key in results else results.setdefault(key, function(value))
        except TypeError:  # unhashable
            return function(value)

    return values.map(once)


def housing_kind(orientation: object) -> str | None:
    """The kind of housing an orientation label means (``None`` for shelter or no solution)."""
    return _HOUSING_KINDS.get(_plain(orientation))


def orientation_done(status: object) -> bool:
    """Whether an orientation's status says it happened ("Orientée", "Admis"...)."""
    return _plain(status) in _DONE_PLAIN


def shelter_request(motive: object) -> bool:
    """Whether a 115 call's motive is a shelter request (the calls `unanswered_115` counts)."""
    return _plain(motive) in _SHELTER_REQUESTS


# The rows that can count in these indicators (and in the flows' moves to housing), as
# predicates on a row's label and on its status (``None``: any): orientations with a housing
# kind that happened, calls that are shelter requests. The database leaves the others out
# (`store.indicators_repository.plan_inputs`).
Counted = tuple[Callable[[object], bool] | None, Callable[[object], bool] | None]
ORIENTATIONS_COUNTED: Counted = (lambda label: housing_kind(label) is not None, orientation_done)
CALLS_COUNTED: Counted = (None, shelter_request)


def exits_to_housing(orientations: pd.DataFrame) -> pd.DataFrame:
    """Orientations to housing that happened: the rows of ``orientations`` with a ``kind``
    column (`housing_kind`) and a ``year``; people oriented twice count once per year."""
    if orientations.empty:
        return pd.DataFrame(columns=["date", "kind", "year"])
    kinds = _map_each_value(orientations["orientation"], housing_kind)
    done = _map_each_value(orientations["status"], orientation_done).astype(bool)
    rows = orientations[kinds.notna() & done].assign(kind=kinds)
    rows = rows.assign(year=pd.to_datetime(rows["date"], errors="coerce").dt.year)
    if "person_id" in rows and rows["person_id"].notna().any():
        rows = rows.sort_values("date").drop_duplicates(["person_id", "year", "kind"])
    return rows.reset_index(drop=True)


def housing_values(orientations: pd.DataFrame) -> pd.DataFrame:
    """Yearly ``exits_to_housing`` and ``social_housing_allocations`` (``indicator_id``,
    ``year``, ``value``) from SI-SIAO orientations."""
    exits = exits_to_housing(orientations)
    if exits.empty:
        return pd.DataFrame(columns=["indicator_id", "year", "value"])
    total = exits.groupby("year").size().rename("value").reset_index()
    total["indicator_id"] = "exits_to_housing"
    social = (
        exits[exits["kind"] == "social_housing_allocations"]
        .groupby("year").size().rename("value").reset_index()
    )  # fmt: skip
    social["indicator_id"] = "social_housing_allocations"
    frame = pd.concat([total, social], ignore_index=True)
    frame["year"] = frame["year"].astype(int)
    frame["value"] = frame["value"].astype(float)
    return frame[["indicator_id", "year", "value"]]


def unanswered_115(calls_115: pd.DataFrame) -> pd.DataFrame:
    """Per year: ``year``, ``demandes`` (shelter requests), ``non_pourvues``, ``value``
    (share left unanswered, 0-1) and ``indicator_id`` = ``unanswered_115``."""
    columns = ["indicator_id", "year", "demandes", "non_pourvues", "value"]
    if calls_115.empty:
        return pd.DataFrame(columns=columns)
    calls = calls_115
    if "motive" in calls:
        calls = calls[_map_each_value(calls["motive"], shelter_request).astype(bool)]
    year = pd.to_datetime(calls["date"], errors="coerce", dayfirst=True).dt.year
    unanswered = _map_each_value(calls["answer"], _plain).isin(_UNANSWERED)
    frame = (
        pd.DataFrame({"year": year, "non_pourvues": unanswered})
        .dropna(subset=["year"])
        .groupby("year")
        .agg(demandes=("non_pourvues", "size"), non_pourvues=("non_pourvues", "sum"))
        .reset_index()
    )
    frame["year"] = frame["year"].astype(int)
    frame["value"] = frame["non_pourvues"] / frame["demandes"]
    frame["indicator_id"] = "unanswered_115"
    return frame[columns]


def target_progress(
    values: pd.DataFrame, targets: pd.DataFrame, catalogue: Catalogue | None = None
) -> pd.DataFrame:
    """Values against targets, one row per indicator and year present in either.

    Adds ``distance`` (value - target, in the indicator's unit), ``attainment`` (value /
    target for "up" indicators, target / value for "down" ones: 1 or more means met) and
    ``met`` (bool, ``None`` without a value or a target).
    """
    catalogue = catalogue or load_catalogue()
    merged = pd.merge(
        values[["indicator_id", "year", "value"]],
        targets[["indicator_id", "year", "target"]],
        on=["indicator_id", "year"],
        how="outer",
    )
    if merged.empty:
        return merged.assign(label=[], distance=[], attainment=[], met=[])
    for column in ("value", "target"):
        merged[column] = pd.to_numeric(merged[column], errors="coerce")
    # A convention's own indicator (not in the catalogue) reads as its id, rising is good.
    directions = merged["indicator_id"].map(
        lambda i: catalogue[i].good if i in catalogue else "up")
    merged["label"] = merged["indicator_id"].map(
        lambda i: catalogue[i].label if i in catalogue else i)
    merged["distance"] = merged["value"] - merged["target"]
    up = directions != "down"
    merged["attainment"] = (merged["value"] / merged["target"]).where(up).fillna(
        (merged["target"] / merged["value"]).where(~up)
    )
    known = merged["value"].notna() & merged["target"].notna()
    met = (merged["value"] >= merged["target"]).where(up, merged["value"] <= merged["target"])
    merged["met"] = met.astype(object).where(known, None)
    return merged.sort_values(["indicator_id", "year"]).reset_index(drop=True)
