"""Tests of the synthetic sample generator: determinism, realism, file formats, scale."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from observatoire.model import ContactSituation
from observatoire.synthetic import (
    AGE_BANDS,
    ERROR_KINDS,
    FILE_FORMATS,
    STREET_PLACES,
    GeneratorConfig,
    generate_sample,
    write_sample,
)
from observatoire.synthetic.errors import accents, hyphen_space, spelling_variant, typo

# Two small communes side by side, cut into a grid of 0.01° squares (about 1 km).
_COMMUNES = [("21231", "Dijon", 150_000, (5.0, 47.3, 5.1, 47.38)),
             ("21617", "Talant", 12_000, (4.94, 47.3, 5.0, 47.36))]  # fmt: skip


@pytest.fixture(scope="module")
def territory() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    communes = gpd.GeoDataFrame(
        {
            "code": [c[0] for c in _COMMUNES],
            "nom": [c[1] for c in _COMMUNES],
            "population": [c[2] for c in _COMMUNES],
        },
        geometry=[shapely.box(*c[3]) for c in _COMMUNES],
        crs=4326,
    )
    rows = []
    for code, _, _, (x0, y0, x1, y1) in _COMMUNES:
        for x in np.arange(x0, x1 - 1e-9, 0.01):
            for y in np.arange(y0, y1 - 1e-9, 0.01):
                rows.append(
                    (f"{code}-{len(rows):03d}", code, shapely.box(x, y, x + 0.01, y + 0.01))
                )
    sectors = gpd.GeoDataFrame(rows, columns=["sector_code", "commune_code", "geometry"], crs=4326)
    return communes, sectors


@pytest.fixture(scope="module")
def sample(territory):
    communes, sectors = territory
    return generate_sample(communes, sectors, seed=7, n_people=2000, n_teams=40)


def _written(sample, directory) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in write_sample(sample, directory).items()}


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files(territory, tmp_path):
    communes, sectors = territory
    a = generate_sample(communes, sectors, seed=11, n_people=400)
    b = generate_sample(communes, sectors, seed=11, n_people=400)
    first, second = _written(a, tmp_path / "a"), _written(b, tmp_path / "b")
    assert first.keys() == set(FILE_FORMATS)
    assert first == second
    assert _written(a, tmp_path / "a2") == first  # writing twice: same bytes
    assert first["decomptes_lieux"].count(b"\r\n") == len(a.place_tallies) + 1 > 1
    only = write_sample(a, tmp_path / "a3", names=["decomptes_lieux"])
    assert list(only) == ["decomptes_lieux"]
    assert only["decomptes_lieux"].read_bytes() == first["decomptes_lieux"]


def test_different_seed_gives_different_data(territory, tmp_path):
    communes, sectors = territory
    a = generate_sample(communes, sectors, seed=11, n_people=400)
    b = generate_sample(communes, sectors, seed=12, n_people=400)
    assert not a.people[["first_name", "last_name"]].equals(b.people[["first_name", "last_name"]])
    assert set(a.teams["team_code"]).isdisjoint(b.teams["team_code"])
    first, second = _written(a, tmp_path / "a"), _written(b, tmp_path / "b")
    assert first["decomptes_lieux"] != second["decomptes_lieux"]


def test_writing_an_unknown_file_names_the_known_ones(sample, tmp_path):
    with pytest.raises(ValueError, match="decomptes_lieux"):
        write_sample(sample, tmp_path, names=["decomptes"])
    assert not tmp_path.joinpath("decomptes_lieux.csv").exists()


# ---------------------------------------------------------------- ground truth and the night


def test_street_population_is_mostly_men(sample):
    street = sample.people[sample.people["in_street_on_night"]]
    assert 0.8 <= (street["sex"] == "M").mean() <= 0.95


@pytest.mark.parametrize(
    ("label", "share", "low", "high"),
    [
        ("homeless for more than a year", lambda p, night: (
            (pd.Timestamp(night) - pd.to_datetime(p["homeless_since"])).dt.days > 365).mean(),
         0.35, 0.55),
        ("never call the 115", lambda p, _: (p["calls_115"] == "never").mean(), 0.55, 0.72),
        ("families with children", lambda p, _: (p["household"] == "with_children").mean(),
         0.03, 0.15),
        ("aged 18-24", lambda p, _: p["age"].between(18, 24).mean(), 0.05, 0.2),
        ("aged 60 and more", lambda p, _: (p["age"] >= 60).mean(), 0.05, 0.2),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_profile_shares(sample, label, share, low, high):
    assert low <= share(sample.people, sample.night_date) <= high, label


def test_some_walked_sector_met_nobody(sample):
    reports = sample.sector_reports
    assert (reports["people_met"] == 0).any()
    assert set(reports["status"]) == {"walked"}
    assert reports["people_met"].sum() == len(sample.observations)


def test_observed_only_share_is_realistic(sample):
    first = sample.observations[~sample.observations["second_sighting"]]
    observed_only = first["situation"] != ContactSituation.INTERVIEWED.value
    assert 0.25 <= observed_only.mean() <= 0.45
    obs = sample.observations
    assert set(obs["situation"]) <= {s.value for s in ContactSituation}
    only = obs[obs["situation"] != ContactSituation.INTERVIEWED.value]
    assert (only["homeless_duration"] == "").all() and only["birth_year"].isna().all()
    assert set(obs["age_band"]) <= set(AGE_BANDS)
    assert set(obs["sleeping_place"]) <= set(STREET_PLACES)


def test_every_point_lies_in_its_sector(sample, territory):
    _, sectors = territory
    geoms = sectors.set_index("sector_code").geometry
    obs = sample.observations
    polygons = geoms.loc[obs["sector_code"]].to_numpy()
    assert shapely.contains_xy(polygons, obs["longitude"], obs["latitude"]).all()


def test_collected_during_the_night(sample):
    times = pd.to_datetime(sample.observations["collected_at"].map(dt.datetime.fromisoformat))
    night = dt.datetime.combine(sample.night_date, dt.time(22), tzinfo=times.iloc[0].tzinfo)
    assert (times >= night).all() and (times <= night + dt.timedelta(hours=3)).all()


def test_double_sightings_are_known_from_the_truth(sample):
    obs = sample.observations
    twice = obs[obs["person_id"].duplicated(keep=False)]
    assert len(twice) and twice["second_sighting"].sum() == len(twice) / 2
    assert (obs["situation"] == ContactSituation.ALREADY_ANSWERED.value).any()
    teams = twice.groupby("person_id")["team_code"].nunique()
    assert (teams == 2).all()


def test_ids_and_codes_are_well_formed(sample):
    assert sample.people["person_id"].is_unique
    assert (
        sample.observations["submission_uuid"]
        .str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
        .all()
    )
    teams = sample.teams
    assert teams["team_code"].is_unique
    assert teams["team_code"].str.fullmatch(r"[A-HJ-KM-NP-Z2-9]{6}").all()
    assert teams["size"].between(3, 5).all()


def test_names_are_diverse(sample):
    origins = sample.people["origin"].value_counts(normalize=True)
    assert {"france", "maghreb", "afrique_ouest", "afghanistan", "georgie"} <= set(origins.index)
    names = set(sample.people["last_name"])
    assert any(n.endswith(("chvili", "dze")) for n in names)  # Georgian, French style
    latin = sample.people["first_name"] + sample.people["last_name"]
    assert not latin.str.contains(r"[\u0400-\u04FF\u10A0-\u10FF\u0600-\u06FF]").any()


# ---------------------------------------------------------------- places counted by partners

# Labels of the tally file -> codes of the ground truth (``partner_place``), written out here
# rather than read from the feed format, so that the test checks the generator against it.
_TALLY_LABELS = {"Gare": "gare", "Métro": "metro", "Hôpital": "hopital", "Parking": "parking",
                 "Bailleur social": "bailleur_social", "Campement": "campement", "Parc": "parc",
                 "Berges": "berges", "Bois": "bois", "Autre": "autre"}  # fmt: skip


def _tally_sums(tallies: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """People per (place kind code, commune code) in a tally frame, zero rows left out."""
    code_of = dict(zip(communes["nom"], communes["code"], strict=True))
    frame = pd.DataFrame({
        "kind": tallies["Type de lieu"].map(_TALLY_LABELS),
        "commune": tallies["Commune"].map(code_of),
        "people": tallies["Nombre de personnes"].astype(int),
    })  # fmt: skip
    assert frame.notna().all().all(), tallies[frame.isna().any(axis=1)]
    sums = frame.groupby(["kind", "commune"])["people"].sum()
    return sums[sums > 0].sort_index()


def test_place_tallies_are_the_partners_count_of_the_ground_truth(sample, territory):
    communes, _ = territory
    people = sample.people
    counted = people[people["counted_by_partner"]]
    truth = counted.groupby(["partner_place", "commune_code"]).size().sort_index()
    truth.index.names = ["kind", "commune"]
    assert _tally_sums(sample.place_tallies, communes).to_dict() == truth.to_dict()
    # Partners count the people sleeping in their places, nearly all of them; nobody there is
    # also met by a street team, so the a minima total counts nobody twice.
    in_place = people["partner_place"] != ""
    assert (people.loc[in_place, "in_street_on_night"]).all()
    assert not (people["counted_by_partner"] & ~in_place).any()
    assert 0.85 <= people.loc[in_place, "counted_by_partner"].mean() <= 1.0
    assert not (in_place & people["met_on_night"]).any()


def test_place_tallies_look_like_a_partner_file(sample, territory):
    communes, _ = territory
    tallies = sample.place_tallies
    assert set(tallies["Date de la nuit"]) == {sample.night_date.strftime("%d/%m/%Y")}
    assert set(tallies["Campagne"]) == {f"Nuit de la Solidarité {sample.night_date.year}"}
    assert tallies["Nombre de personnes"].str.fullmatch(r"\d+").all()
    assert set(tallies["Commune"]) <= set(communes["nom"])
    # One row per place: the import keys a row by night, kind, place, commune and partner.
    key = ["Type de lieu", "Lieu", "Commune", "Partenaire"]
    assert not tallies.duplicated(key).any()
    # Stations and hospitals of the large commune report their count, 0 included.
    dijon = tallies[tallies["Commune"] == "Dijon"]
    assert {"Gare", "Hôpital"} <= set(dijon["Type de lieu"])
    # Camps, parks and car parks; no metro in a territory of 162,000 inhabitants.
    assert {"Parking", "Bailleur social", "Campement", "Parc"} <= set(tallies["Type de lieu"])
    assert "Métro" not in set(tallies["Type de lieu"])


def test_partner_places_add_to_the_street_count_as_in_paris(sample):
    """Paris 2025: partner places added 1,049 people to the 2,458 met by the street teams
    (43%); the sample's partners add a share of the same order."""
    street = (sample.observations["situation"] != ContactSituation.ALREADY_ANSWERED.value).sum()
    partners = sample.place_tallies["Nombre de personnes"].astype(int).sum()
    assert 0.15 <= partners / street <= 0.6, (partners, street)


def test_a_large_territory_has_metro_tallies(territory):
    communes, sectors = territory
    config = GeneratorConfig(metro_min_population=100_000)
    sample = generate_sample(communes, sectors, seed=5, n_people=2000, config=config)
    kinds = set(sample.place_tallies["Type de lieu"])
    assert "Métro" in kinds and "Autre" not in kinds
    assert sample.people["partner_place"].isin(["metro"]).any()


# ---------------------------------------------------------------- partner files and errors


def test_truth_is_kept_out_of_partner_files(sample):
    for name, frame in sample.partner_files.items():
        assert "person_id" not in frame.columns
        truth = sample.partner_truth[sample.partner_truth["file"] == name]
        assert truth["row_number"].tolist() == list(range(len(frame)))
    siao = sample.partner_files["si_siao"]
    rows = sample.partner_truth[sample.partner_truth["file"] == "si_siao"]
    assert rows["person_id"].duplicated().any()  # several requests per person
    assert (
        sample.partner_files["appels_115"]["Réponse"].isin(["Pas de place", "Sans solution"]).mean()
        > 0.3
    )
    assert {"Nom", "Prénom", "Date de naissance", "Sexe", "N° usager SI-SIAO", "Commune",
            "Date de la demande"} <= set(siao.columns)  # fmt: skip


_RATE_FILES = ("si_siao", "accueil_jour")


@pytest.mark.parametrize(
    ("kind", "tolerance"),
    [
        ("variant", 0.03),
        ("swap_names", 0.02),
        ("placeholder_birth_date", 0.025),
        ("day_month_swap", 0.02),
        ("missing_birth_date", 0.025),
        ("typo", 0.02),
        ("accents", 0.02),
        ("upper_case", 0.025),
        ("missing_value", 0.02),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_realised_error_share_is_close_to_its_rate(sample, kind, tolerance):
    rate = sample.config.error_rates()[kind]
    rows = sum(len(sample.partner_files[f]) for f in _RATE_FILES)
    errors = sample.injected_errors
    count = ((errors["kind"] == kind) & errors["file"].isin(_RATE_FILES)).sum()
    assert abs(count / rows - rate) <= tolerance, (kind, count / rows, rate)


def test_every_error_kind_occurs_and_is_recorded(sample):
    kinds = set(sample.injected_errors["kind"])
    assert set(ERROR_KINDS) <= kinds


def test_rates_are_configurable(territory):
    communes, sectors = territory
    config = GeneratorConfig(**{f"{k}_rate": 0.0 for k in GeneratorConfig().error_rates()})
    clean = generate_sample(communes, sectors, seed=3, n_people=300, config=config)
    assert set(clean.injected_errors["kind"]) <= {"encoding_replaced"}


def test_placeholder_dates_really_are_first_of_january(sample):
    errors = sample.injected_errors
    placeholders = errors[errors["kind"] == "placeholder_birth_date"]
    assert len(placeholders)
    for file, row, corrupted in placeholders[["file", "row_number", "corrupted"]].itertuples(
        index=False
    ):
        fmt = "%d/%m/%Y" if file == "si_siao" else "%Y-%m-%d"
        date = dt.datetime.strptime(corrupted, fmt)
        assert (date.day, date.month) == (1, 1)
        assert sample.partner_files[file].loc[row, "Date de naissance"] == corrupted


def test_a_swapped_pair_is_visible_against_the_truth(sample):
    siao = sample.partner_files["si_siao"].copy()
    truth = sample.partner_truth[sample.partner_truth["file"] == "si_siao"]
    siao["person_id"] = truth["person_id"].to_numpy()
    merged = siao.merge(sample.people, on="person_id")
    swapped = (merged["Nom"] == merged["first_name"]) & (merged["Prénom"] == merged["last_name"])
    assert swapped.any()


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (spelling_variant, "Mohamed", {"Mohammed", "Mouhamed", "Muhammad", "Mohamad",
                                       "Mohammad", "Mouhammad"}),
        (spelling_variant, "Mindiachvili", {"Mindiashvili"}),
        (hyphen_space, "Abdel Kader", {"Abdel-Kader", "AbdelKader"}),
        (accents, "Aïssatou", {"Aissatou"}),
    ],
    ids=["variant-family", "variant-georgian", "hyphen-space", "accents-dropped"],
)  # fmt: skip
def test_corruptions(fn, value, expected):
    import random

    assert fn(value, random.Random(1)) in expected


def test_typo_is_one_edit():
    import random

    rnd = random.Random(5)
    for name in ("Diallo", "Traoré", "Lefebvre", "Giorgi"):
        new = typo(name, rnd)
        assert new is not None and new != name and abs(len(new) - len(name)) <= 1


# ---------------------------------------------------------------- files as partners send them


@pytest.mark.parametrize(
    ("name", "encoding", "sep"),
    [(name, fmt.encoding, fmt.separator) for name, fmt in FILE_FORMATS.items()],
    ids=list(FILE_FORMATS),
)
def test_written_files_follow_partner_conventions(sample, tmp_path_factory, name, encoding, sep):
    directory = tmp_path_factory.getbasetemp() / "written"
    if not directory.exists():
        write_sample(sample, directory)
    raw = (directory / FILE_FORMATS[name].file_name).read_bytes()
    frame = pd.read_csv(directory / FILE_FORMATS[name].file_name, sep=sep, encoding=encoding,
                        dtype=str, keep_default_na=False)  # fmt: skip
    assert len(frame) == len(sample.partner_files.get(name, frame))
    if encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf")
    if encoding == "cp1252":
        assert "é".encode("cp1252") in raw  # accents are present...
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # ...and the file is not UTF-8
    if name == "si_siao":
        assert frame["Date de la demande"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()


def test_cp1252_replacements_are_recorded(sample):
    replaced = sample.injected_errors[sample.injected_errors["kind"] == "encoding_replaced"]
    assert len(replaced) and replaced["file"].isin(["si_siao", "maraude"]).all()
    assert replaced["corrupted"].str.contains("?", regex=False).all()
    for frame_name in ("si_siao", "maraude"):
        for col in sample.partner_files[frame_name].columns:
            values = sample.partner_files[frame_name][col]
            values.map(lambda v: v.encode("cp1252"))  # raises if anything is left


# ---------------------------------------------------------------- scale


@pytest.mark.slow
def test_scale_smoke(territory):
    communes, sectors = territory
    # Its speed is measured by benchmarks/bench_generator.py, not asserted here.
    big = generate_sample(communes, sectors, seed=1, n_people=20_000)
    assert len(big.people) == 20_000


def test_the_sample_siao_file_fills_the_optional_columns_read_through_feed_import(
        sample, tmp_path):
    """The generator's SI-SIAO and 115 files carry « Situation avant », « Date de sortie »,
    « Sortie d'institution » and « Victime de violences »; `feed import` reads each value
    into the format's codes (no issue on those columns, no unknown prior situation)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.model import PriorSituation
    from observatoire.store.db import upgrade_database
    from observatoire.store.indicators_repository import partner_rows

    files = write_sample(sample, tmp_path, names=["si_siao", "appels_115"])
    engine = create_engine(f"sqlite:///{tmp_path / 'o.sqlite'}")
    upgrade_database(engine)
    for name in ("si_siao", "appels_115"):
        report = import_feed(engine, files[name], get_format(name), bytes(range(32)),
                             today=dt.date(2026, 3, 1))
        assert report.rows_imported > 0
        optional = {"Situation avant", "Date de sortie", "Sortie d'institution",
                    "Victime de violences"}
        assert not [i for i in report.issues if i.column in optional], report.to_text()
    with Session(engine) as session:
        rows = partner_rows(session)
    siao = rows[rows["source"] == "si_siao"]
    assert set(siao["prior_situation"].dropna()) <= {s.value for s in PriorSituation}
    assert siao["prior_situation"].notna().mean() > 0.95
    assert {"rue", "hebergement_urgence", "hotel", "institution"} <= set(siao["prior_situation"])
    assert siao["exit_date"].notna().any() and siao["institution"].eq("prison").any()
    calls = rows[rows["source"] == "appels_115"]
    assert calls["violence"].notna().any()
    # Asked of women only (a few have lost their « Sexe » to the injected errors).
    assert (calls.loc[calls["violence"].notna(), "sex"] != "M").all()


def test_interviewed_people_answer_on_their_rights_in_the_questionnaires_words(sample):
    """``resources`` / ``health_cover``: choices of the shipped questionnaire, « aucune »
    alone, the same answer for a person interviewed twice, "" for people only observed."""
    from observatoire.survey.questionnaire import load_questionnaire

    q = load_questionnaire("ndls-2026")
    obs = sample.observations
    interviewed = obs["situation"] == ContactSituation.INTERVIEWED.value
    assert (obs.loc[~interviewed, ["resources", "health_cover"]] == "").all().all()
    for answer in ("resources", "health_cover"):
        given = obs.loc[interviewed, answer]
        allowed = {c.value for c in q.choices(answer)}
        assert set(" ".join(given).split()) <= allowed
        # Most answer, a few leave it blank; a plausible minority says « aucune ».
        assert 0.8 <= (given != "").mean() < 1.0
        assert 0.1 <= given.str.split().map(lambda c: "aucune" in c).mean() <= 0.4
        assert given.groupby(obs.loc[interviewed, "person_id"]).nunique().max() == 1
    resources = obs.loc[interviewed, "resources"].str.split()
    assert not resources.map(lambda c: "aucune" in c and len(c) > 1).any()
    assert (resources.map(len) == 2).any()
