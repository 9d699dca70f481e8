"""The groups and stays the *Logement d'abord* conventions' annexes name, from the partner
rows that carry them (SI-SIAO requests, 115 calls) and from staff figures: pure functions,
each ``year``, ``value`` (`observatoire.indicators.yearly` runs them for the catalogue).

Input ``partner_rows`` (`observatoire.store.indicators_repository.partner_rows`): one row per
SI-SIAO request or 115 call as the shipped formats store it: ``source`` (``si_siao`` or
``appels_115``), ``date`` (request or call), ``person_id`` (the linkage's, may be empty),
``sex``, ``household``, ``children``, ``orientation``, ``status``, ``orientation_date``,
``exit_date``, ``institution``, ``violence``, ``prior_situation`` (codes of
`observatoire.model.PriorSituation`). A column the partner's extract lacks is empty:
the indicators that need it have no value (never a zero).

People are counted once a year: by their linked person when there is one, else each row
(a request or a call) counts as one person.
"""

from __future__ import annotations

import pandas as pd

from observatoire.indicators.housing import (
    _map_each_value,
    _plain,
    exits_to_housing,
    orientation_done,
)
from observatoire.model import PriorSituation

COLUMNS = ["year", "value"]
SIAO, CALLS_115 = "si_siao", "appels_115"
PARTNER_COLUMNS = ["source", "date", "person_id", "sex", "household", "children",
                   "orientation", "status", "orientation_date", "exit_date", "institution",
                   "violence", "prior_situation"]
# `institution` codes of the shipped SI-SIAO format (`feeds/formats/si_siao.yaml`) that
# mean leaving an institution: prison, hospital (psychiatric too), child welfare.
INSTITUTIONS = {"prison", "hopital", "psychiatrie", "ase"}
# `household` codes (SI-SIAO, 115) of a household with children.
WITH_CHILDREN = {"seul_avec_enfants", "couple_avec_enfants", "famille"}
DAYS_PER_MONTH = 365.25 / 12
# Eviction prevention by stage: staff figures (households), the stages of the procedure.
EVICTION_STAGES = {
    "eviction_payment_orders": "commandement de payer",
    "eviction_summons": "assignation",
    "eviction_orders_to_leave": "commandement de quitter les lieux",
    "eviction_police_assistance": "concours de la force publique",
}
EVICTION_MET = "eviction_households_met"


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def _of(rows: pd.DataFrame, source: str | None = None, *need: str) -> pd.DataFrame:
    """The rows of ``source`` (both without one) that have every column of ``need``."""
    if rows.empty:
        return rows
    if source is not None:
        rows = rows[rows["source"] == source]
    for column in need:
        if column not in rows:
            return rows.iloc[0:0]
        rows = rows[rows[column].notna() & (rows[column].astype(str) != "")]
    return rows


def _year(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=True).dt.year


def _people_per_year(rows: pd.DataFrame, year: pd.Series) -> pd.DataFrame:
    """Distinct people per year: the linked person, else the row itself."""
    if rows.empty:
        return _empty()
    person = rows["person_id"] if "person_id" in rows else pd.Series(None, index=rows.index)
    who = person.astype(object).where(person.notna(),
                                      "ligne:" + pd.Series(rows.index, index=rows.index)
                                      .astype(str))
    frame = pd.DataFrame({"year": year, "who": who.astype(str)}).dropna(subset=["year"])
    if frame.empty:
        return _empty()
    counted = frame.groupby("year")["who"].nunique().reset_index()
    return pd.DataFrame({"year": counted["year"].astype(int),
                         "value": counted["who"].astype(float)})[COLUMNS]


def _done(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[_map_each_value(rows["status"], orientation_done).astype(bool)]


def hotel_placement(orientation: object) -> bool:
    """Whether an orientation label is a hotel placement (« Hôtel », « Nuitées hôtelières »)."""
    return "hotel" in _plain(orientation)


def emergency_shelter(orientation: object) -> bool:
    """Whether an orientation label is emergency shelter (« CHU », « Hébergement
    d'urgence », « Mise à l'abri »); a hotel is counted apart (`hotel_placement`)."""
    text = _plain(orientation)
    return (not hotel_placement(orientation)) and (
        "urgence" in text or "mise a l'abri" in text or text.split(" ")[0] == "chu")


def people_in_hotels(rows: pd.DataFrame) -> pd.DataFrame:
    """People placed in a hotel through the SI-SIAO in the year (orientation carried out)."""
    siao = _of(rows, SIAO, "orientation", "status")
    if siao.empty:
        return _empty()
    placed = _done(siao[_map_each_value(siao["orientation"], hotel_placement).astype(bool)])
    if placed.empty:
        return _empty()
    when = placed["orientation_date"].fillna(placed["date"])
    return _people_per_year(placed, _year(when))


def emergency_stay_months(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean length in months of the emergency-shelter stays that ended in the year (SI-SIAO
    orientation date to exit date; stays still open and extracts without « Date de sortie »
    give none)."""
    siao = _of(rows, SIAO, "orientation", "status", "orientation_date", "exit_date")
    if siao.empty:
        return _empty()
    stays = _done(siao[_map_each_value(siao["orientation"], emergency_shelter).astype(bool)])
    start = pd.to_datetime(stays["orientation_date"], errors="coerce", format="mixed")
    end = pd.to_datetime(stays["exit_date"], errors="coerce", format="mixed")
    frame = pd.DataFrame({"year": end.dt.year,
                          "value": (end - start).dt.days / DAYS_PER_MONTH})
    frame = frame[frame["value"] >= 0].dropna()
    if frame.empty:
        return _empty()
    mean = frame.groupby("year")["value"].mean().round(1).reset_index()
    return mean.assign(year=mean["year"].astype(int))[COLUMNS]


def institution_leavers(rows: pd.DataFrame) -> pd.DataFrame:
    """People asking the SI-SIAO in the year on leaving prison, hospital or child welfare
    (the optional column « Sortie d'institution »)."""
    siao = _of(rows, SIAO, "institution")
    leaving = siao[siao["institution"].isin(INSTITUTIONS)] if not siao.empty else siao
    if leaving.empty:
        return _empty()
    return _people_per_year(leaving, _year(leaving["date"]))


def women_victims_of_violence(rows: pd.DataFrame) -> pd.DataFrame:
    """Women who said in the year, to the SI-SIAO or the 115, they suffer violence
    (« Victime de violences »: oui), counted once across both."""
    told = _of(rows, None, "violence", "sex")
    if told.empty:
        return _empty()
    told = told[told["violence"].astype(str).str.lower().isin({"true", "oui", "1"})
                & (told["sex"] == "F")]
    if told.empty:
        return _empty()
    return _people_per_year(told, _year(told["date"]))


def households_with_children(rows: pd.DataFrame) -> pd.DataFrame:
    """Households with children that asked the SI-SIAO or called the 115 in the year (their
    composition, or a number of children above 0), counted once across both."""
    known = _of(rows, None)
    if known.empty:
        return _empty()
    none = pd.Series(None, index=known.index, dtype=object)
    household = known["household"] if "household" in known else none
    children = pd.to_numeric(known["children"] if "children" in known else none,
                             errors="coerce")
    families = known[household.isin(WITH_CHILDREN) | (children > 0)]
    if families.empty:
        return _empty()
    return _people_per_year(families, _year(families["date"]))


def exits_rate(rows: pd.DataFrame) -> pd.DataFrame:
    """Share of the people who asked the SI-SIAO in the year (from the street or from a
    shelter) who moved into housing that year (orientations to housing carried out)."""
    siao = _of(rows, SIAO)
    if siao.empty:
        return _empty()
    asked = _people_per_year(siao, _year(siao["date"]))
    orientations = _of(siao, None, "orientation", "status")
    if orientations.empty:
        return _empty()
    moves = exits_to_housing(orientations.assign(
        date=orientations["orientation_date"].fillna(orientations["date"])))
    moved = _people_per_year(moves, moves["year"]) if not moves.empty else _empty()
    frame = asked.merge(moved, on="year", how="left", suffixes=("_asked", "_moved"))
    frame = frame[frame["value_asked"] > 0]
    return pd.DataFrame({"year": frame["year"].astype(int),
                         "value": frame["value_moved"].fillna(0.0) / frame["value_asked"]})


def _moves_from(rows: pd.DataFrame, before: set[str]) -> pd.DataFrame:
    """People who moved into housing in the year (orientation to housing carried out) and
    whose request said they lived, before it, in one of the ``before`` situations."""
    siao = _of(rows, SIAO, "orientation", "status", "prior_situation")
    if siao.empty:
        return _empty()
    moves = exits_to_housing(siao.assign(
        date=siao["orientation_date"].fillna(siao["date"])))
    moves = moves[moves["prior_situation"].isin(before)] if not moves.empty else moves
    if moves.empty:
        return _empty()
    return _people_per_year(moves, moves["year"])


def exits_from_street(rows: pd.DataFrame) -> pd.DataFrame:
    """People who moved from the street into housing in the year (SI-SIAO « Situation
    avant » : rue); extracts without the column give none."""
    return _moves_from(rows, {PriorSituation.RUE.value})


def exits_from_shelter(rows: pd.DataFrame) -> pd.DataFrame:
    """People who moved from shelter (emergency, insertion, hotel) into housing in the
    year (SI-SIAO « Situation avant »); extracts without the column give none."""
    return _moves_from(rows, {s.value for s in PriorSituation if s.in_shelter})


# People with incomplete rights, from the count night's questionnaire (`survey/ndls-2026.yaml`):
# computation name -> the answer it reads; « aucune » is the choice that means none.
RIGHTS_ANSWERS = {"night_no_resources": "resources", "night_no_health_cover": "health_cover"}
NONE_CHOICE, UNKNOWN_CHOICE = "aucune", "ne_sait_pas"


def without_rights(interviews: pd.DataFrame, answer: str) -> pd.DataFrame:
    """``year``, ``value``, ``numerator``, ``denominator``: per year of the count nights,
    the share of the interviewed people who answered ``answer`` (``resources``, several
    choices; ``health_cover``, one) and said « aucune ». Not answered and « ne sait pas »
    are out of the denominator; the year's nights are pooled. ``interviews``: one row per
    interviewed person (``night_date`` and the answers). The caller applies the
    disclosure control to ``numerator`` / ``denominator``."""
    columns = ["year", "value", "numerator", "denominator"]
    if interviews.empty or answer not in interviews:
        return pd.DataFrame(columns=columns)

    def choices(value: object) -> set[str]:
        if isinstance(value, (list, tuple, set)):
            return {str(v) for v in value}
        return set(str(value).split()) if isinstance(value, str) else set()

    given = interviews[answer].map(choices)
    known = given.map(lambda c: bool(c - {UNKNOWN_CHOICE}))
    frame = pd.DataFrame({"year": _year(interviews["night_date"]),
                          "none": given.map(lambda c: NONE_CHOICE in c)})[known]
    frame = frame.dropna(subset=["year"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    counts = frame.groupby("year")["none"].agg(["sum", "size"]).reset_index()
    return pd.DataFrame({"year": counts["year"].astype(int),
                         "value": counts["sum"] / counts["size"],
                         "numerator": counts["sum"].astype(int),
                         "denominator": counts["size"].astype(int)})[columns]


def eviction_met_share(values: pd.DataFrame) -> pd.DataFrame:
    """Share of the households at the payment-order stage that the prevention met in the
    year (staff figures ``eviction_households_met`` / ``eviction_payment_orders``)."""
    if values.empty:
        return _empty()
    wide = values.pivot_table(index="year", columns="indicator_id", values="value",
                              aggfunc="last")
    if EVICTION_MET not in wide or "eviction_payment_orders" not in wide:
        return _empty()
    share = (wide[EVICTION_MET] / wide["eviction_payment_orders"]).where(
        wide["eviction_payment_orders"] > 0).dropna()
    return pd.DataFrame({"year": share.index.astype(int), "value": share.to_numpy()})
