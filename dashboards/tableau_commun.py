"""What the staff pages share: access checks, cached data loads, filters (not a page)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import common
from dashboards.common import engine, require  # noqa: F401 - pages import require from here
from observatoire.formats_fr import NO_DATA, count_fr  # noqa: F401 - pages import NO_DATA
from observatoire.indicators import IndicatorInputs, service
from observatoire.indicators.dedup import DistinctEstimate
from observatoire.model import Role

STAFF_ROLES = (Role.STAFF, Role.ADMIN)


@st.cache_data(ttl=300, max_entries=4, show_spinner="Chargement des données…")
def load_inputs(territory_slug: str) -> IndicatorInputs:
    """The count nights, targets and staff entries (small). The partner feeds are not read
    here: the pages ask the database for their aggregates (the functions below)."""
    return service.load_inputs(engine(), territory_slug, with_feeds=False)


@st.cache_data(ttl=30, show_spinner=False)
def feed_version() -> tuple[int, ...]:
    """Changes when partner records or the linkage change: the key of the feed caches."""
    return service.feed_version(engine())


# The feed aggregates are keyed by `feed_version` and have no ``ttl``: they are read again
# when the feeds or the linkage change (or the server restarts), not every few minutes. The
# database keeps them computed (`observatoire.store.feed_aggregates`): a visit reads a row.
@st.cache_data(max_entries=8, show_spinner="Estimation dédoublonnée…")
def distinct_estimate(territory_slug: str, version: tuple[int, ...]) -> DistinctEstimate | None:
    """The latest linkage run's estimate of distinct people with its 90 % interval, and who
    is known to whom (``None`` before any run); ``by_source`` is left empty."""
    return service.distinct_estimate(engine(), territory_slug, version)


@st.cache_data(max_entries=32, show_spinner=False)
def feed_counts(
    territory_slug: str, codes: tuple[str, ...], version: tuple[int, ...]
) -> dict[str, int]:
    return service.feed_counts(engine(), territory_slug, codes, version)


@st.cache_data(max_entries=8, show_spinner="Calcul des flux…")
def feed_flows(territory_slug: str, days: int, version: tuple[int, ...]) -> pd.DataFrame:
    """Monthly flows from each person's last contact per month and the moves to housing."""
    return service.monthly_flows(engine(), territory_slug, days, version)


@st.cache_data(max_entries=8, show_spinner=False)
def feed_plan_values(territory_slug: str, version: tuple[int, ...]) -> pd.DataFrame:
    """The *Logement d'abord* yearly figures of the SI-SIAO and 115 feeds."""
    return service.plan_values(engine(), territory_slug, version)


def choose_territory() -> str:
    return common.choose_territory(st.sidebar, key="filtre_territoire")


def filters(inputs: IndicatorInputs) -> tuple[IndicatorInputs, int | None, list[str]]:
    """Campaign, commune and population filters in the sidebar.

    Returns the inputs restricted to the chosen communes, the campaign id and the codes.
    """
    campaigns = inputs.campaigns.sort_values("night_date", ascending=False)
    campaign_id = None
    if not campaigns.empty:
        names = dict(zip(campaigns["campaign_id"], campaigns["name"], strict=True))
        campaign_id = st.sidebar.selectbox(
            "Nuit de comptage", list(names), format_func=names.get, key="filtre_campagne"
        )
    communes = inputs.communes
    minimum = st.sidebar.select_slider(
        "Population des communes (au moins)", options=[0, 1_000, 5_000, 10_000, 50_000],
        value=0, format_func=lambda v: f"{count_fr(v)} hab.",
        key="filtre_population",
    )  # fmt: skip
    eligible = communes[communes["population"] >= minimum]
    labels = dict(zip(eligible["code"], eligible["nom"], strict=True))
    chosen = st.sidebar.multiselect(
        "Communes", list(labels), format_func=labels.get, key="filtre_communes",
        placeholder="Toutes les communes",
    )  # fmt: skip
    codes = chosen or (list(eligible["code"]) if minimum else [])
    return inputs.filter_communes(codes), campaign_id, codes
