"""The bundle of documented frames every indicator reads (`IndicatorInputs`).

The store fills it (`observatoire.store.indicators_repository.load_inputs`); tests and
benchmarks build it by hand. A frame may be empty: the indicators that need it come out as
``None`` / empty and the pages say "pas de données".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

from observatoire.indicators.publics import PARTNER_COLUMNS, RIGHTS_ANSWERS

_COLUMNS = {
    "communes": ["code", "nom", "population"],
    "campaigns": ["campaign_id", "name", "night_date", "method", "status"],
    "observations": ["campaign_id", "commune_code", "sector_code", "situation", "sex",
                     "age_band", "sleeping_place"],
    "sectors": ["campaign_id", "sector_code", "commune_code"],
    "sector_reports": ["campaign_id", "sector_code", "people_met"],
    "place_tallies": ["campaign_id", "place_kind", "people", "commune_code"],
    "linked_records": ["source", "person_id", "confidence", "expected_people", "date",
                       "commune_code"],
    "orientations": ["date", "orientation", "status", "person_id"],
    "calls_115": ["date", "answer", "motive"],
    "values": ["indicator_id", "year", "value"],
    "targets": ["indicator_id", "year", "target"],
    "partner_rows": PARTNER_COLUMNS,
    "interviews": ["campaign_id", "night_date", *RIGHTS_ANSWERS.values()],
}  # fmt: skip


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame with the documented columns of input ``name``."""
    return pd.DataFrame(columns=_COLUMNS[name])


@dataclass
class IndicatorInputs:
    """Everything the indicators read, as plain frames (columns in ``_COLUMNS``).

    ``observations``, ``sectors``, ``sector_reports`` and ``place_tallies`` carry a
    ``campaign_id``; ``linked_records`` are partner and count-night records with their
    linkage cluster (see `observatoire.indicators.dedup`).
    """

    communes: pd.DataFrame = field(default_factory=lambda: empty_frame("communes"))
    campaigns: pd.DataFrame = field(default_factory=lambda: empty_frame("campaigns"))
    observations: pd.DataFrame = field(default_factory=lambda: empty_frame("observations"))
    sectors: pd.DataFrame = field(default_factory=lambda: empty_frame("sectors"))
    sector_reports: pd.DataFrame = field(default_factory=lambda: empty_frame("sector_reports"))
    place_tallies: pd.DataFrame = field(default_factory=lambda: empty_frame("place_tallies"))
    linked_records: pd.DataFrame = field(default_factory=lambda: empty_frame("linked_records"))
    orientations: pd.DataFrame = field(default_factory=lambda: empty_frame("orientations"))
    calls_115: pd.DataFrame = field(default_factory=lambda: empty_frame("calls_115"))
    values: pd.DataFrame = field(default_factory=lambda: empty_frame("values"))
    targets: pd.DataFrame = field(default_factory=lambda: empty_frame("targets"))
    partner_rows: pd.DataFrame = field(default_factory=lambda: empty_frame("partner_rows"))
    # The interviewed people of the published nights with their rights answers
    # (`observatoire.store.indicators_repository.interviews`).
    interviews: pd.DataFrame = field(default_factory=lambda: empty_frame("interviews"))

    def __post_init__(self) -> None:
        for f in fields(self):
            frame = getattr(self, f.name)
            if frame is None:
                setattr(self, f.name, empty_frame(f.name))

    def of_campaign(self, name: str, campaign_id: int) -> pd.DataFrame:
        frame = getattr(self, name)
        if frame.empty or "campaign_id" not in frame:
            return frame.iloc[0:0]
        return frame[frame["campaign_id"] == campaign_id]

    def latest_campaign_id(self) -> int | None:
        if self.campaigns.empty:
            return None
        return int(self.campaigns.sort_values("night_date")["campaign_id"].iloc[-1])

    def filter_communes(self, codes: list[str] | None) -> IndicatorInputs:
        """The same inputs restricted to ``codes`` (all communes when ``None`` or empty)."""
        if not codes:
            return self
        wanted = set(codes)
        out = {}
        for f in fields(self):
            frame = getattr(self, f.name)
            key = "code" if f.name == "communes" else "commune_code"
            if key in frame and f.name != "place_tallies":
                frame = frame[frame[key].isin(wanted)]
            elif f.name == "place_tallies" and "commune_code" in frame:
                frame = frame[frame["commune_code"].isin(wanted)]
            out[f.name] = frame
        return IndicatorInputs(**out)
