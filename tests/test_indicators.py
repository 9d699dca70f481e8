"""Indicator catalogue and pure computations; at the end, the aggregates the database
computes for the pages checked against the pure computations (SQLite and PostgreSQL)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.indicators import (
    IndicatorInputs,
    a_minima,
    campaign_table,
    counts_by_commune,
    distinct_people,
    load_catalogue,
    monthly_flows,
    place_kind,
    plan_indicators,
    profile_shares,
    sector_coverage,
    target_progress,
    year_on_year,
)
from observatoire.indicators.catalogue import UnknownIndicatorError, parse_catalogue
from observatoire.indicators.housing import exits_to_housing, unanswered_115
from observatoire.model import ObservatoireError

# Published Paris 2025 figures (Ville de Paris, Nuit de la Solidarité 2025).
PARIS_2025_PLACES = pd.DataFrame(
    {
        "place_kind": ["Campements, talus et parcs", "metro", "bois", "gare", "hopital",
                       "parking", "bailleur_social"],
        "people": [336, 200, 190, 168, 62, 52, 41],
    }
)  # fmt: skip


def observations(rows: list[dict]) -> pd.DataFrame:
    base = {"situation": "interviewed", "commune_code": "21231", "sector_code": "S1"}
    return pd.DataFrame([{**base, **row} for row in rows])


# --- catalogue -----------------------------------------------------------------------------------


def test_catalogue_has_every_indicator_the_issue_asks_for():
    catalogue = load_catalogue()
    for wanted in (
        "a_minima_total", "rate_per_10000", "share_women", "share_minors_families",
        "share_18_24", "share_60_plus", "share_alone", "share_over_one_year",
        "share_never_115", "share_tent_car", "sectors_covered", "distinct_people",
        "unknown_to_partners", "active", "inflow", "outflow", "exits_to_housing",
        "social_housing_allocations", "unanswered_115", "iml_places",
        "pension_famille_places", "eviction_prevention",
    ):  # fmt: skip
        indicator = catalogue[wanted]
        assert indicator.label and indicator.definition and indicator.formula
        assert indicator.priority_label


def test_unknown_indicator_lists_the_valid_ones():
    with pytest.raises(UnknownIndicatorError, match="a_minima_total"):
        load_catalogue()["homeless"]


def test_catalogue_entry_with_a_bad_direction_is_refused_with_the_allowed_values():
    entry = dict(vars(load_catalogue()["a_minima_total"]))
    entry["good"] = "lower"
    with pytest.raises(ObservatoireError, match="down, none, up"):
        parse_catalogue([entry])


@pytest.mark.parametrize(
    ("indicator", "change", "progress"),
    [("a_minima_total", -10, True), ("a_minima_total", 5, False),
     ("exits_to_housing", 5, True), ("share_women", 3, None)],
)  # fmt: skip
def test_direction_says_whether_a_change_is_progress(indicator, change, progress):
    assert load_catalogue()[indicator].is_progress(change) is progress


# --- count night ---------------------------------------------------------------------------------


def test_paris_2025_a_minima_is_3507_with_the_published_breakdown():
    count = a_minima(2458, PARIS_2025_PLACES)
    assert count.total == 3507
    assert count.partners == 1049
    breakdown = count.breakdown().set_index("lieu")["personnes"].to_dict()
    assert breakdown == {
        "rue": 2458, "campement": 336, "metro": 200, "bois": 190, "gare": 168,
        "hopital": 62, "parking": 52, "bailleur_social": 41,
    }  # fmt: skip


def test_a_minima_from_observations_leaves_out_people_who_already_answered():
    obs = observations([{}, {}, {"situation": "already_answered"}, {"situation": "asleep"}])
    assert a_minima(obs).total == 3


@pytest.mark.parametrize(
    ("label", "kind"),
    [("Campements, talus et parcs", "campement"), ("berges", "campement"), ("Métro", "metro"),
     ("car_parks", "parking"), ("Bailleurs sociaux", "bailleur_social"), ("?", "autre")],
)  # fmt: skip
def test_place_labels_map_to_kinds(label, kind):
    assert place_kind(label) == kind


def test_negative_tally_is_refused():
    with pytest.raises(ValueError, match="négatif"):
        a_minima(-1)


def test_counts_by_commune_add_located_tallies_and_give_rates():
    communes = pd.DataFrame({"code": ["21231", "21166", "21003"], "nom": ["Dijon", "Chenôve",
                             "Ahuy"], "population": [150_000, 10_000, 0]})  # fmt: skip
    obs = observations([{}] * 30 + [{"commune_code": "21166"}] * 5)
    tallies = pd.DataFrame({"place_kind": ["gare", "hopital"], "people": [12, 4],
                            "commune_code": ["21231", None]})  # fmt: skip
    table = counts_by_commune(obs, communes, tallies).set_index("code")
    assert table.loc["21231", ["rue", "lieux", "personnes"]].tolist() == [30, 12, 42]
    assert table.loc["21231", "pour_10000"] == pytest.approx(2.8)
    assert table.loc["21166", "personnes"] == 5
    assert np.isnan(table.loc["21003", "pour_10000"])


def test_profile_shares_count_among_known_values_only():
    obs = observations(
        [
            {"sex": "F", "age_band": "18-24", "household": "alone", "homeless_duration": "1_5_ans",
             "calls_115": "jamais", "sleeping_place": "tente_campement"},
            {"sex": "M", "age_band": "moins de 18", "household": "with_children",
             "homeless_duration": "moins_3_mois", "calls_115": "souvent", "sleeping_place": "rue"},
            {"sex": "M", "age_band": "65 et plus", "household": "", "calls_115": None},
            {"sex": "", "age_band": "55-64", "situation": "refused"},
            {"sex": "F", "situation": "already_answered"},
        ]
    )  # fmt: skip
    shares = profile_shares(obs).set_index("indicator")
    assert shares.loc["share_women", ["numerator", "denominator"]].tolist() == [1, 3]
    assert shares.loc["share_18_24", "share"] == pytest.approx(1 / 4)
    assert shares.loc["share_60_plus", "share"] == pytest.approx(1.5 / 4)
    assert shares.loc["share_minors_families", "numerator"] == 1
    assert shares.loc["share_alone", "share"] == pytest.approx(0.5)
    assert shares.loc["share_over_one_year", "share"] == pytest.approx(0.5)
    assert shares.loc["share_never_115", "share"] == pytest.approx(0.5)
    assert shares.loc["share_tent_car", "share"] == pytest.approx(0.5)


def test_profile_of_nobody_is_nan_not_an_error():
    shares = profile_shares(observations([]).iloc[0:0])
    assert shares["share"].isna().all()


def test_sector_coverage_lists_sectors_without_a_report():
    sectors = pd.DataFrame({"sector_code": ["A", "B", "C"], "commune_code": ["1", "1", "2"]})
    reports = pd.DataFrame({"sector_code": ["A", "C"], "people_met": [0, 3]})
    coverage = sector_coverage(sectors, reports).set_index("commune_code")
    assert coverage.loc["1", "non_couverts"] == ["B"]
    assert coverage.loc["1", "couverture"] == 0.5
    assert coverage.loc["1", "sans_personne"] == 1


# --- de-duplicated estimate ----------------------------------------------------------------------


def test_distinct_people_is_the_linkage_runs_figure_beside_who_is_known_to_whom():
    from observatoire.indicators.dedup import PeopleFigure

    records = pd.DataFrame(
        {
            "source": ["nuit", "si_siao", "maraude", "nuit", "appels_115", "nuit"],
            "person_id": [1, 1, 1, 2, 3, None],
        }
    )
    estimate = distinct_people(records, PeopleFigure(people=3, low=2, high=5))
    # The estimate and its interval are the run's, never recounted from the clusters.
    assert (estimate.low, estimate.estimate, estimate.high) == (2, 3, 5)
    assert estimate.records == 6
    assert estimate.met_on_night == 3
    assert estimate.unknown_to_partners == 2


def test_who_is_known_to_whom_restricted_to_a_period():
    from observatoire.indicators.dedup import PeopleFigure

    records = pd.DataFrame({"source": ["si_siao"] * 3, "person_id": [1, 2, 3],
                            "date": ["2025-01-01", "2025-06-01", "2026-01-01"]})  # fmt: skip
    estimate = distinct_people(records, PeopleFigure(3, 3, 3), dt.date(2025, 1, 1),
                               dt.date(2025, 12, 31))  # fmt: skip
    assert estimate.records == 2 and estimate.by_source == {"si_siao": 2}


# --- flows ---------------------------------------------------------------------------------------


def test_flows_classify_inflow_and_outflow_by_name():
    contacts = pd.DataFrame(
        {
            "person_id": ["a", "b", "b", "c", "c", "d"],
            "date": ["2025-01-10", "2025-01-15", "2025-04-20", "2025-01-05", "2025-03-03",
                     "2025-03-10"],
        }
    )  # fmt: skip
    housing = pd.DataFrame({"person_id": ["c"], "date": ["2025-02-01"]})
    flows = monthly_flows(contacts, housing, start="2025-01", end="2025-05", inactivity_days=30)
    by_month = flows.set_index("mois")
    assert by_month.loc["2025-01", "nouvelles"] == 3
    assert by_month.loc["2025-02", "relogees"] == 1  # c moved to housing
    assert by_month.loc["2025-02", "inactives"] == 2  # a and b: no contact for 30 days
    assert by_month.loc["2025-03", "retours_logement"] == 1  # c is back
    assert by_month.loc["2025-03", "nouvelles"] == 1  # d
    assert by_month.loc["2025-04", "retours_inactivite"] == 1  # b
    assert (flows["ecart"] == 0).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 400)), min_size=1, max_size=80),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 400)), max_size=10),
    st.integers(10, 120),
)
def test_flows_always_balance(contacts, housed, window):
    start = dt.date(2025, 1, 1)
    frame = pd.DataFrame(
        [(f"p{p}", start + dt.timedelta(days=d)) for p, d in contacts],
        columns=["person_id", "date"],
    )
    housing = pd.DataFrame(
        [(f"p{p}", start + dt.timedelta(days=d)) for p, d in housed],
        columns=["person_id", "date"],
    )
    flows = monthly_flows(frame, housing, inactivity_days=window)
    assert (flows["ecart"] == 0).all()
    assert (flows["actifs_debut"].iloc[1:].to_numpy() == flows["actifs"].iloc[:-1].to_numpy()).all()


def test_flows_of_300000_contacts_balance_every_month():
    # Speed is measured by benchmarks/, not asserted here (no wall-clock limit in tests).
    rng = np.random.default_rng(1)
    contacts = pd.DataFrame(
        {
            "person_id": rng.integers(0, 60_000, 300_000),
            "date": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 365, 300_000), unit="D"),
        }
    )
    flows = monthly_flows(contacts)
    assert len(flows) == 12 and (flows["ecart"] == 0).all()


# --- Logement d'abord ----------------------------------------------------------------------------


def test_exits_to_housing_and_unanswered_115():
    orientations = pd.DataFrame(
        {
            "date": ["2025-03-01", "2025-04-01", "2025-05-01", "2025-06-01"],
            "orientation": ["Logement social", "Logement adapté (IML)", "CHRS",
                            "Pension de famille"],
            "status": ["Orientée", "Orientée", "Orientée", "En attente"],
        }
    )  # fmt: skip
    assert sorted(exits_to_housing(orientations)["kind"]) == [
        "iml", "social_housing_allocations"]  # fmt: skip
    calls = pd.DataFrame(
        {"date": ["03/01/2025 10:00"] * 4, "answer": ["Pas de place", "Hébergé(e)",
         "Sans solution", "Information donnée"], "motive": ["Demande d'hébergement"] * 3 +
         ["Information"]}
    )  # fmt: skip
    row = unanswered_115(calls).iloc[0]
    assert (row["year"], row["demandes"], row["non_pourvues"]) == (2025, 3, 2)


def test_distance_to_target_goes_the_indicator_s_way():
    values = pd.DataFrame({"indicator_id": ["exits_to_housing", "unanswered_115"],
                           "year": [2025, 2025], "value": [80, 0.5]})  # fmt: skip
    targets = pd.DataFrame({"indicator_id": ["exits_to_housing", "unanswered_115",
                            "iml_places"], "year": [2025, 2025, 2025],
                            "target": [100, 0.4, 50]})  # fmt: skip
    progress = target_progress(values, targets).set_index("indicator_id")
    assert progress.loc["exits_to_housing", "distance"] == -20
    assert progress.loc["exits_to_housing", "met"] is False
    assert progress.loc["unanswered_115", "attainment"] == pytest.approx(0.8)
    assert progress.loc["iml_places", "met"] is None


def test_plan_indicators_prefer_staff_entries_over_feeds():
    inputs = IndicatorInputs(
        orientations=pd.DataFrame({"date": ["2025-03-01"], "orientation": ["Logement social"],
                                   "status": ["Orientée"], "person_id": [None]}),
        values=pd.DataFrame({"indicator_id": ["exits_to_housing"], "year": [2025],
                             "value": [42.0]}),
    )  # fmt: skip
    table = plan_indicators(inputs).set_index("indicator_id")
    assert table.loc["exits_to_housing", "value"] == 42
    assert table.loc["social_housing_allocations", "value"] == 1


def test_a_target_on_the_count_night_total_gets_the_night_s_value():
    inputs = IndicatorInputs(
        campaigns=pd.DataFrame({"campaign_id": [1, 2, 3], "name": ["2025", "2026", "2026 bis"],
                                "night_date": [dt.date(2025, 1, 30), dt.date(2026, 1, 29),
                                               dt.date(2026, 2, 12)],
                                "method": ["v1"] * 3, "status": ["locked"] * 3}),
        observations=pd.concat([observations([{"campaign_id": 1}] * 3),
                                observations([{"campaign_id": 2}] * 5),
                                observations([{"campaign_id": 3}] * 4)], ignore_index=True),
        place_tallies=pd.DataFrame({"campaign_id": [3], "place_kind": ["gare"], "people": [7],
                                    "commune_code": ["21231"]}),
        targets=pd.DataFrame({"indicator_id": ["a_minima_total"], "year": [2026],
                              "target": [250]}),
    )  # fmt: skip
    table = plan_indicators(inputs).set_index(["indicator_id", "year"])
    # The latest night of 2026 (4 in the street, 7 in a station) against its target.
    assert table.loc[("a_minima_total", 2026), "value"] == 11
    assert table.loc[("a_minima_total", 2026), "met"] is True
    assert table.loc[("a_minima_total", 2025), "value"] == 3
    assert table.loc[("partner_places", 2026), "value"] == 7


# --- trends --------------------------------------------------------------------------------------


def test_year_on_year_change_with_caution_when_method_or_coverage_changed():
    paris = pd.DataFrame(
        {
            "campaign_id": range(8),
            "name": [f"NDLS {y}" for y in range(2018, 2026)],
            "night_date": [dt.date(y, 1, 30) for y in range(2018, 2026)],
            "total": [3035, 3641, 3552, 2829, 2598, 3015, 3492, 3507],
            "method": ["v1"] * 7 + ["v2"],
            "sectors": [350] * 6 + [730, 730],
        }
    )
    trend = year_on_year(paris).set_index("name")
    assert trend.loc["NDLS 2019", "change"] == 606
    assert trend.loc["NDLS 2025", "change_pct"] == pytest.approx(15 / 3492)
    assert trend.loc["NDLS 2019", "caution"] == ""
    assert "couverture" in trend.loc["NDLS 2024", "caution"]
    assert "méthode" in trend.loc["NDLS 2025", "caution"]


def test_campaign_table_of_empty_inputs_is_empty():
    assert campaign_table(IndicatorInputs()).empty


# --- aggregates computed in the database equal the pure computations -------------------------


def _per_month_last(contacts: pd.DataFrame) -> pd.DataFrame:
    month = pd.to_datetime(contacts["date"]).dt.to_period("M")
    return contacts.assign(_m=month).groupby(["person_id", "_m"], as_index=False)["date"].max()[
        ["person_id", "date"]]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 500)), min_size=1, max_size=120),
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 500)), max_size=10),
    st.sampled_from([30, 90]),
)
def test_flows_of_each_month_s_last_contact_equal_flows_of_every_contact(contacts, housed, days):
    start = pd.Timestamp("2025-01-01")
    frame = pd.DataFrame([(f"p{p}", start + pd.Timedelta(days=d)) for p, d in contacts],
                         columns=["person_id", "date"])  # fmt: skip
    housing = pd.DataFrame([(f"p{p}", start + pd.Timedelta(days=d)) for p, d in housed],
                           columns=["person_id", "date"])  # fmt: skip
    expected = monthly_flows(frame, housing, inactivity_days=days)
    reduced = monthly_flows(_per_month_last(frame), housing, inactivity_days=days)
    pd.testing.assert_frame_equal(reduced, expected)


SOURCES = ["nuit", "si_siao", "appels_115", "maraude", "accueil_jour"]


def _feeds_database(engine, seed: int = 6) -> None:
    """Territory ``t`` (two communes), territory ``u`` (one), 60 people, 500 partner records
    (linked or not, with or without commune and date), SI-SIAO and 115 attributes."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from observatoire.model import Commune, Territory, TerritoryKind
    from observatoire.store import repository
    from observatoire.store.db import upgrade_database
    from observatoire.store.tables import PersonRow, SourceRecordRow

    upgrade_database(engine)
    rng = np.random.default_rng(seed)
    with Session(engine) as session, session.begin():
        for slug, codes in (("t", ["21231", "21166"]), ("u", ["13055"])):
            repository.save_territory(session, Territory(
                slug=slug, name=slug.upper(), kind=TerritoryKind.CUSTOM, cog_year=2024,
                communes=[Commune(code=c, name=c, population=1000, cog_year=2024)
                          for c in codes]))  # fmt: skip
        confidences = rng.choice([0.55, 0.8, 0.95, 1.0], 60)
        session.execute(insert(PersonRow), [
            {"id": i + 1, "person_key": f"K{i}", "confidence": float(c), "record_count": 1}
            for i, c in enumerate(confidences)
        ])  # fmt: skip
        rows = []
        orientations = [("Logement social", "Orientée"), ("Pension de famille", "orientee"),
                        ("CHRS", "Orientée"), ("Logement adapté (IML)", "En attente")]
        answers = ["Pas de place", "Hébergé(e)", "Sans solution"]
        for i in range(500):
            source = SOURCES[int(rng.integers(0, len(SOURCES)))]
            person = None if rng.random() < 0.15 else int(rng.integers(1, 61))
            commune = [None, "21231", "21166", "13055"][int(rng.integers(0, 4))]
            day = None if rng.random() < 0.05 else dt.date(2025, 1, 1) + dt.timedelta(
                days=int(rng.integers(0, 420)))
            attributes = {}
            if source == "si_siao" and rng.random() < 0.7:
                kind, status = orientations[int(rng.integers(0, len(orientations)))]
                when = dt.date(2024, 6, 1) + dt.timedelta(days=int(rng.integers(0, 500)))
                written = when.isoformat() if i % 2 else when.strftime("%d/%m/%Y")
                attributes = {"orientation": kind, "statut": status, "date_orientation": written}
            elif source == "appels_115" and rng.random() < 0.7:
                attributes = {"Réponse": answers[int(rng.integers(0, 3))],
                              "motif": "Demande d'hébergement"}  # fmt: skip
            rows.append({"source": source, "source_row_key": f"R{i}", "commune_code": commune,
                         "last_contact": day, "pseudonyms": {}, "attributes": attributes,
                         "person_id": person})  # fmt: skip
        session.execute(insert(SourceRecordRow), rows)


def _reference(engine):
    from sqlalchemy.orm import Session

    from observatoire.store import indicators_repository as ind

    with Session(engine) as session:
        return IndicatorInputs(**ind.load_inputs(session, "t"))


def _summary_fields(summary) -> dict:
    from dataclasses import asdict

    fields = asdict(summary)
    return {k: pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v
            for k, v in fields.items()}  # fmt: skip


def _same_summary(left, right) -> bool:
    return _summary_fields(left) == _summary_fields(right)


@pytest.mark.parametrize("period", [(None, None), (dt.date(2025, 3, 1), dt.date(2025, 10, 31))],
                         ids=["tout", "periode"])  # fmt: skip
def test_distinct_people_aggregated_in_sql_equal_the_pure_computation(engine, period):
    from sqlalchemy.orm import Session

    from observatoire.indicators.dedup import (
        PeopleFigure,
        estimate_from_summary,
        summarise_clusters,
    )
    from observatoire.store import indicators_repository as ind

    _feeds_database(engine)
    reference = _reference(engine)
    with Session(engine) as session:
        summary = ind.cluster_summary(session, "t", *period)
    expected = summarise_clusters(reference.linked_records, *period)
    assert expected.records > 100 and expected.multi and expected.alone  # a real test
    assert _same_summary(summary, expected)
    figure = PeopleFigure(10, 8, 12)
    assert estimate_from_summary(summary, figure) == distinct_people(
        reference.linked_records, figure, *period)


def test_feed_counts_and_flows_from_sql_equal_the_pure_computations(engine):
    from sqlalchemy.orm import Session

    from observatoire.indicators import flows
    from observatoire.store import indicators_repository as ind

    _feeds_database(engine)
    reference = _reference(engine)
    records = reference.linked_records
    assert set(records["commune_code"].dropna()) <= {"21231", "21166"}  # u's stay out
    with Session(engine) as session:
        counts = ind.feed_counts(session, "t")
        counts_21166 = ind.feed_counts(session, "t", ["21166"])
        contacts = ind.flow_contacts(session, "t")
        plan = ind.plan_inputs(session)
        version = ind.feed_version(session)
    linked = records.dropna(subset=["person_id"])
    assert counts == {"records": len(records), "linked": len(linked),
                      "people": linked["person_id"].nunique(),
                      "duplicates": len(linked) - linked["person_id"].nunique()}  # fmt: skip
    only = reference.filter_communes(["21166"]).linked_records.dropna(subset=["person_id"])
    assert counts_21166["duplicates"] == len(only) - only["person_id"].nunique()
    assert len(contacts) < len(linked)  # one row per person and month
    pd.testing.assert_frame_equal(
        flows(IndicatorInputs(linked_records=contacts, orientations=plan["orientations"])),
        flows(reference),
    )
    for name in ("orientations", "calls_115"):
        pd.testing.assert_frame_equal(plan[name].reset_index(drop=True),
                                      getattr(reference, name).reset_index(drop=True))
    assert plan_indicators(IndicatorInputs(**plan)).equals(plan_indicators(reference))
    assert not plan_indicators(reference).empty
    # Re-linking a record changes the version the pages cache the aggregates under.
    from sqlalchemy import update

    from observatoire.store.tables import SourceRecordRow

    with Session(engine) as session, session.begin():
        session.execute(update(SourceRecordRow).where(SourceRecordRow.person_id.is_(None))
                        .values(person_id=1))  # fmt: skip
    with Session(engine) as session:
        assert ind.feed_version(session) != version


def test_the_rows_that_can_count_give_the_figures_of_all_rows(engine):
    """``plan_inputs(counting=True)`` (what the dashboards' aggregates read) leaves most rows
    in the database and gives the same *Logement d'abord* figures and flows."""
    from sqlalchemy.orm import Session

    from observatoire.indicators import flows
    from observatoire.indicators.compute import feed_plan_values
    from observatoire.indicators.housing import housing_kind, orientation_done
    from observatoire.store import indicators_repository as ind

    _feeds_database(engine)
    with Session(engine) as session:
        every = ind.plan_inputs(session)
        counting = ind.plan_inputs(session, counting=True)
        contacts = ind.flow_contacts(session, "t")
    for name in ("orientations", "calls_115"):
        assert 0 < len(counting[name]) <= len(every[name])
    assert len(counting["orientations"]) < len(every["orientations"])  # CHRS, "En attente"
    kept = counting["orientations"]
    assert all(housing_kind(o) and orientation_done(s)
               for o, s in zip(kept["orientation"], kept["status"], strict=True))  # fmt: skip
    pd.testing.assert_frame_equal(feed_plan_values(IndicatorInputs(**counting)),
                                  feed_plan_values(IndicatorInputs(**every)))  # fmt: skip
    for days in (30, 90):
        pd.testing.assert_frame_equal(
            flows(IndicatorInputs(linked_records=contacts,
                                  orientations=counting["orientations"]), days),
            flows(IndicatorInputs(linked_records=contacts, orientations=every["orientations"]),
                  days),
        )  # fmt: skip


def test_partner_dates_read_iso_and_day_first():
    from observatoire.store.indicators_repository import _partner_dates

    dates = _partner_dates(pd.Series(["2025-02-03", "03/02/2025", "03/02/2025 22:30", None]))
    assert dates.dt.strftime("%Y-%m-%d").tolist()[:3] == ["2025-02-03"] * 3
    assert pd.isna(dates.iloc[3])


def test_labels_are_normalised_once_per_distinct_value_with_the_same_result():
    from observatoire.indicators.housing import _map_each_value, _plain, housing_kind

    values = pd.Series(["Orientée", " orientée ", None, float("nan"), 1, True, 1.0, "IML",
                        ["unhashable"], "Logement social", "Orientée"])  # fmt: skip
    calls = []

    def plain(value):
        calls.append(value)
        return _plain(value)

    assert _map_each_value(values, plain).tolist() == values.map(_plain).tolist()
    assert len(calls) < len(values)  # "Orientée" normalised once
    kinds = _map_each_value(values, housing_kind)
    assert kinds.tolist() == values.map(housing_kind).tolist()


def test_place_tallies_of_a_shared_night_stay_with_their_territory(engine):
    """Two territories count on the same night: each one's a minima holds its own partner
    places and the tallies without a commune, never the other territory's places."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from observatoire.store import indicators_repository as ind
    from observatoire.store import repository
    from observatoire.store.feeds_tables import PlaceTallyRow

    _feeds_database(engine)
    night = dt.date(2026, 1, 22)
    tallies = [("gare", "21231", 7), ("hopital", "21166", 3), ("metro", None, 11),
               ("gare", "13055", 40), ("parking", "13055", 5)]  # fmt: skip
    with Session(engine) as session, session.begin():
        for slug in ("t", "u"):
            repository.create_campaign(session, slug, f"NDLS {slug}", night, "ndls-2026")
        session.execute(insert(PlaceTallyRow), [
            {"row_key": f"k{i}", "night_date": night, "place_kind": kind,
             "commune_code": code, "people_count": people}
            for i, (kind, code, people) in enumerate(tallies)
        ])  # fmt: skip
    with Session(engine) as session:
        own = ind.load_inputs(session, "t", with_feeds=False)["place_tallies"]
        other = ind.load_inputs(session, "u", with_feeds=False)["place_tallies"]
    assert sorted(own["people"]) == [3, 7, 11]
    assert sorted(other["people"]) == [5, 11, 40]


def test_help_texts_and_definitions_come_from_the_catalogue():
    from observatoire.indicators.catalogue import load_catalogue

    entry = load_catalogue()["a_minima_total"]
    assert entry.help_text.startswith(entry.label.rstrip("."))
    assert entry.definition in entry.help_text
    row = entry.definition_row()
    assert row["Indicateur"] == entry.label and row["Fréquence"] in ("annuelle",
                                                                      "trimestrielle")
    assert row["Calcul"] and "_" not in row["Calcul"]  # a French label, not the code
