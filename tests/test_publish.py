"""Disclosure control and the published artefacts: nothing personal, no small cell."""

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.model import ObservatoireError
from observatoire.publish import DisclosureRules, protect_counts, protect_share
from observatoire.publish.disclosure import PRIMARY, PUBLISHED, SECONDARY, suppression_pattern

RULES = DisclosureRules()


def commune_cells(values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"nom": [f"C{i}" for i in range(len(values))], "personnes": values,
                         "population": [1000] * len(values)})  # fmt: skip


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([50, 40, 30], [PUBLISHED] * 3, id="nothing-small"),
        pytest.param([50, 40, 5, 8], [PUBLISHED, PUBLISHED, PRIMARY, PRIMARY],
                     id="two-small-sum-13"),
        pytest.param([50, 40, 5], [PUBLISHED, SECONDARY, PRIMARY], id="one-small-needs-a-partner"),
        pytest.param([50, 40, 3, 2], [PUBLISHED, SECONDARY, PRIMARY, PRIMARY],
                     id="small-group-under-threshold"),
        pytest.param([50, 0, 4], [SECONDARY, PUBLISHED, PRIMARY], id="zeros-stay-published"),
    ],
)  # fmt: skip
def test_suppression_pattern(values, expected):
    status, total_hidden = suppression_pattern(values, 11)
    assert list(status) == expected
    assert not total_hidden


def test_a_total_under_the_threshold_hides_everything():
    table = protect_counts(commune_cells([3, 4, 0]), "personnes", "nom", RULES)
    assert table["personnes"].isna().sum() == 4  # two communes, merged row, total
    assert table["personnes"].dropna().tolist() == [0]


def test_protected_table_has_merged_row_and_total():
    table = protect_counts(commune_cells([50, 40, 5, 8]), "personnes", "nom", RULES,
                           sum_columns=("population",))  # fmt: skip
    rows = table.set_index("nom")
    assert rows.loc["Autres communes", "personnes"] == 13
    assert rows.loc["Autres communes", "population"] == 2000
    assert rows.loc["Total", "personnes"] == 103
    assert pd.isna(rows.loc["C2", "personnes"])


def test_rounding_never_goes_under_the_threshold():
    rules = DisclosureRules(threshold=11, rounding=5)
    assert [rules.publish_value(v) for v in (0, 11, 12, 13, 101)] == [0, 15, 15, 15, 100]


@pytest.mark.parametrize("threshold", [0, -3])
def test_bad_threshold_is_refused_with_the_fix(threshold):
    with pytest.raises(ObservatoireError, match="au moins 1"):
        DisclosureRules(threshold=threshold)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=1, max_size=25), st.integers(2, 15))
def test_no_suppressed_value_can_be_recovered(values, threshold):
    rules = DisclosureRules(threshold=threshold)
    table = protect_counts(commune_cells(values), "personnes", "nom", rules)
    cells = table[table["statut"].isin([PUBLISHED, PRIMARY, SECONDARY])]
    shown = cells["personnes"].dropna()
    # No published cell is under the threshold (zeros reveal nobody).
    assert ((shown == 0) | (shown >= threshold)).all()
    hidden = cells[cells["personnes"].isna()]
    raw = np.array(values)[hidden.index.to_numpy()]
    total = table.loc[table["statut"] == "total", "personnes"].iloc[0]
    if len(hidden) and not pd.isna(total):
        # The total minus the published cells gives the merged cell only: it holds at least
        # two non-empty cells and at least ``threshold`` people.
        assert (raw > 0).sum() >= 2
        assert raw.sum() >= threshold
        merged = table.loc[table["statut"] == "regroupement", "personnes"].iloc[0]
        assert merged == total - shown.sum() == raw.sum()
    if not pd.isna(total):
        assert total == sum(values)


@pytest.mark.parametrize(
    ("numerator", "denominator", "published"),
    [(20, 100, True), (5, 100, False), (95, 100, False), (5, 8, False), (0, 40, True)],
)
def test_shares_of_small_groups_are_not_published(numerator, denominator, published):
    assert (protect_share(numerator, denominator, RULES) is not None) is published


# --- the artefacts of the sample territory ----------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from observatoire.config import load_settings
    from observatoire.pipeline import open_database
    from observatoire.sample_database import add_sample_history, build_sample_database

    data_dir = tmp_path_factory.mktemp("publication")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, history=False, partner_feeds=False)
    engine = open_database(settings)
    add_sample_history(engine, "dijon-metropole", nights=(pd.Timestamp("2025-01-30").date(),))
    yield settings, engine
    engine.dispose()


@pytest.fixture(scope="module")
def artefacts(sample, tmp_path_factory):
    from observatoire.cli import main

    settings, _ = sample
    output = tmp_path_factory.mktemp("export")
    import os

    os.environ["OBSERVATOIRE_DATA_DIR"] = str(settings.data_dir)
    try:
        formats = ["html", "csv", "xlsx"]
        from observatoire.publish.export import _browser_path

        if _browser_path():
            formats.append("png")
        assert main(["publish", "--output", str(output), "--formats", *formats]) == 0
    finally:
        del os.environ["OBSERVATOIRE_DATA_DIR"]
    return {p.suffix.lstrip("."): p for p in output.iterdir()}


def _identifiers(settings) -> set[str]:
    """Every identifier, name and pseudonym of the sample's people."""
    folder = settings.samples_dir / "dijon-metropole"
    people = pd.read_csv(folder / "verite_personnes.csv", dtype=str).fillna("")
    tokens: set[str] = set()
    for column in ("person_id", "siao_user_id", "first_name", "last_name", "nickname"):
        for value in people[column]:
            tokens.update(t for t in re.split(r"[\s'\-]+", value) if t)
    observations = pd.read_csv(folder / "observations_nuit.csv", dtype=str).fillna("")
    tokens.update(observations["submission_uuid"])
    tokens.update(v for v in observations.get("initials", []) if len(v) > 2)
    tokens.update(pd.read_csv(folder / "equipes.csv", dtype=str)["team_code"])
    siao = pd.read_csv(folder / "extraction_si_siao.csv", dtype=str, sep=None, engine="python",
                       encoding="cp1252").fillna("")  # fmt: skip
    tokens.update(siao.iloc[:, 0])  # request numbers
    return {t for t in tokens if len(t) >= 3}


def _public_words(settings) -> set[str]:
    """Words that public reference data and the fixed texts contain (commune names...)."""
    from observatoire.geo.territories import load_reference_territory
    from observatoire.publish import report

    text = " ".join(load_reference_territory("dijon-metropole")["nom"])
    text += " " + report.METHODOLOGY + " " + report.DISCLOSURE_NOTE + " " + str(report.SOURCES)
    return {w.lower() for w in re.findall(r"\w+", text)}


def _texts(artefacts) -> dict[str, str]:
    import plotly.offline

    texts = {}
    # The inlined plotly.js library is public code, not data: leave it out of the scan.
    texts["html"] = artefacts["html"].read_text(encoding="utf-8").replace(
        plotly.offline.get_plotlyjs(), ""
    )
    texts["csv"] = artefacts["csv"].read_text(encoding="utf-8-sig")
    with zipfile.ZipFile(artefacts["xlsx"]) as archive:
        # Cell contents only: the theme and styles hold font names ("Arab" script...).
        texts["xlsx"] = " ".join(
            archive.read(n).decode("utf-8") for n in archive.namelist()
            if n == "xl/sharedStrings.xml" or n.startswith("xl/worksheets/")
        )  # fmt: skip
    if "png" in artefacts:
        texts["png"] = artefacts["png"].read_bytes().decode("latin-1")
    return texts


def test_every_export_is_written(artefacts):
    assert {"html", "csv", "xlsx"} <= set(artefacts)
    html = artefacts["html"].read_text(encoding="utf-8")
    assert "Méthodologie" in html and "Licence Ouverte" in html and "Secret statistique" in html
    assert "<script src=" not in html  # self-contained: plotly.js is inlined


def test_published_artefacts_hold_no_identifier_name_or_pseudonym(sample, artefacts):
    settings, _ = sample
    forbidden = _identifiers(settings)
    public = _public_words(settings)
    leaks = []
    for kind, text in _texts(artefacts).items():
        words = set(re.findall(r"[\w\-]+", text))
        lower = {w.lower() for w in words}
        for token in forbidden:
            if token.lower() in public:
                continue
            if (token in words) or (len(token) >= 4 and token.lower() in lower):
                leaks.append((kind, token))
    assert not leaks, f"identifiants ou noms publiés : {leaks[:20]}"


def test_published_tables_have_no_cell_under_the_threshold(artefacts):
    table = pd.read_csv(artefacts["csv"], sep=";", decimal=",", encoding="utf-8-sig")
    counts = table["Personnes sans abri (a minima)"].dropna()
    assert ((counts == 0) | (counts >= 11)).all()
    assert table["Statut"].str.startswith("secret").any()  # the sample has small communes
    sheets = pd.read_excel(artefacts["xlsx"], sheet_name=None)
    for name, column in (("Communes", "Personnes sans abri (a minima)"), ("Lieux", "Personnes"),
                         ("Évolution", "Personnes")):  # fmt: skip
        values = pd.to_numeric(sheets[name][column], errors="coerce").dropna()
        assert ((values == 0) | (values >= 11)).all(), name
    # The HTML tables say "secret" where the CSV is empty, and show the same counts.
    html = artefacts["html"].read_text(encoding="utf-8")
    assert html.count(">secret<") >= table["Statut"].str.startswith("secret").sum()


def test_published_places_hold_the_partners_places_under_distinct_labels(artefacts):
    places = pd.read_excel(artefacts["xlsx"], sheet_name="Lieux")
    labels = places.iloc[:, 0]
    # The sample's partners counted places of several kinds, "Autres lieux" (tram and bus
    # stations) among them: it must not be confused with the row of small places merged.
    assert labels.is_unique, list(labels)
    assert {"Rue (équipes bénévoles)", "Gares", "Total"} <= set(labels)


def test_publication_of_a_database_without_campaign_says_so(tmp_path, capsys):
    from observatoire.cli import main

    env_dir = tmp_path / "vide"
    import os

    os.environ["OBSERVATOIRE_DATA_DIR"] = str(env_dir)
    try:
        from observatoire.config import load_settings
        from observatoire.pipeline import import_reference_territory, open_database

        engine = open_database(load_settings())
        from sqlalchemy.orm import Session

        with Session(engine) as session, session.begin():
            import_reference_territory(session, "dijon-metropole")
        engine.dispose()
        assert main(["publish", "--output", str(tmp_path / "out"), "--formats", "csv"]) == 2
        assert "Aucune nuit de comptage publiée" in capsys.readouterr().err
    finally:
        del os.environ["OBSERVATOIRE_DATA_DIR"]


def test_the_choropleth_draws_one_filled_path_per_area_and_greys_the_secret_ones():
    import geopandas as gpd
    from shapely.geometry import MultiPolygon, box

    from observatoire.publish.figures import SECRET_COLOR, choropleth

    shapes = gpd.GeoDataFrame(
        {"nom": ["Aval", "Bourg", "Combe"], "personnes": [3.0, None, 12.0]},
        geometry=[box(5.0, 47.3, 5.01, 47.31),
                  MultiPolygon([box(5.01, 47.3, 5.02, 47.31), box(5.03, 47.3, 5.04, 47.31)]),
                  box(5.02, 47.31, 5.03, 47.32)],
        crs="EPSG:4326",
    )  # fmt: skip
    figure = choropleth(shapes, "personnes", "Personnes", secret_text="secret")
    paths = [shape.path for shape in figure.layout.shapes]
    assert [p.count("M") for p in paths] == [1, 2, 1]  # the two parts of Bourg in one area
    assert all(p.count("Z") == p.count("M") for p in paths)
    colours = [shape.fillcolor for shape in figure.layout.shapes]
    assert colours[1] == SECRET_COLOR and SECRET_COLOR not in (colours[0], colours[2])
    hover = figure.data[0]
    assert list(hover.text) == ["Aval<br>Personnes : 3", "Bourg<br>Personnes : secret",
                                "Combe<br>Personnes : 12"]  # fmt: skip
    assert figure.layout.separators == ", "
