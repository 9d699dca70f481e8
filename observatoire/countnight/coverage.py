"""Live coverage of a count night: sectors walked, in progress or not started, and the
count extrapolated to the sectors not walked."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.indicators.extrapolation import Extrapolation
from observatoire.store import survey_repository

COVERAGE_LABELS = {"walked": "Parcouru", "in_progress": "En cours", "not_started": "Pas commencé"}


@dataclass(frozen=True)
class Coverage:
    sectors: gpd.GeoDataFrame  # sector_code, commune_code, team_code, team_name, status,
    #                            statut, people, reported_at, geometry
    by_commune: pd.DataFrame  # commune_code, personnes, secteurs, parcourus
    people: int
    walked: int
    in_progress: int
    not_started: int


def coverage(engine: Engine, campaign_id: int) -> Coverage:
    """Sectors reported / in progress / not started, and people counted so far."""
    with Session(engine) as session:
        rows = survey_repository.sector_rows(session, campaign_id)
    frame = pd.DataFrame(
        [r[:2] + r[3:] for r in rows],
        columns=["sector_code", "commune_code", "team_code", "team_name", "report",
                 "reported_people", "reported_at", "people"],
    )
    geometry = shapely.from_wkb([r[2] for r in rows]) if rows else []
    status = [
        "walked" if rep == "walked" else "in_progress" if rep == "in_progress" or n > 0
        else "not_started"
        for rep, n in zip(frame["report"], frame["people"], strict=True)
    ]
    frame["status"] = status
    frame["statut"] = frame["status"].map(COVERAGE_LABELS)
    sectors = gpd.GeoDataFrame(frame.drop(columns=["report"]), geometry=list(geometry),
                               crs="EPSG:4326")
    by_commune = (
        frame.groupby("commune_code")
        .agg(personnes=("people", "sum"), secteurs=("sector_code", "count"),
             parcourus=("status", lambda s: int((s == "walked").sum())))
        .reset_index()
    )
    counts = frame["status"].value_counts()
    return Coverage(
        sectors=sectors,
        by_commune=by_commune,
        people=int(frame["people"].sum()),
        walked=int(counts.get("walked", 0)),
        in_progress=int(counts.get("in_progress", 0)),
        not_started=int(counts.get("not_started", 0)),
    )


def coverage_extrapolation(engine: Engine, campaign_id: int) -> Extrapolation:
    """The night's *a minima* count with the sectors not walked (or walked in part)
    estimated from walked sectors of the same density class (earlier nights' counts of the
    sector) or commune: an estimate shown beside the official count, never instead of it."""
    from observatoire.indicators.extrapolation import density_classes, extrapolate_count

    current = coverage(engine, campaign_id)
    with Session(engine) as session:
        earlier = survey_repository.earlier_sector_counts(session, campaign_id)
    sectors = pd.DataFrame(current.sectors[["sector_code", "commune_code", "status", "people"]])
    sectors["density_class"] = density_classes(sectors["sector_code"].map(earlier))
    return extrapolate_count(sectors, seed=campaign_id)
