"""The publication workflow of a count night, and the differencing check before publishing.

A night that is open, closed or validated but not published reaches no public page and no
export; publishing stores a version (a correction is a new one); the differencing check
finds a protected count recovered between public tables.
"""

import datetime as dt
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.config import load_settings
from observatoire.model import CampaignStatus
from observatoire.publish.attack import Cell, PublicTable, check_publications, find_disclosures

REPO = Path(__file__).resolve().parent.parent
NEW_NIGHT = "Nuit de test du workflow"


# --- the differencing check, on crafted tables ------------------------------------------------


def _atoms(night: str, commune: str, *kinds: str) -> frozenset:
    return frozenset((night, commune, k) for k in kinds)


def test_the_check_finds_chenove_street_vs_a_minima():
    """The issue's case: street 17 on the home page, a minima 21 on the published page
    (threshold 11): the 4 people of Chenôve's partner places are recovered."""
    n = "2026-01-29"
    home = PublicTable("accueil (rue)", (
        Cell("Chenôve", _atoms(n, "21166", "rue"), 17),
        Cell("Dijon", _atoms(n, "21231", "rue"), 244),
    ))  # fmt: skip
    published = PublicTable("page publiée (a minima)", (
        Cell("Chenôve", _atoms(n, "21166", "rue", "gares"), 21),
        Cell("Dijon", _atoms(n, "21231", "rue", "gares"), 320),
    ))  # fmt: skip
    protected = [("Chenôve, lieux partenaires", _atoms(n, "21166", "gares")),
                 ("Dijon, lieux partenaires", _atoms(n, "21231", "gares"))]  # fmt: skip
    found = find_disclosures([home, published], 11, protected)
    assert [(d.label, d.value) for d in found] == [("Chenôve, lieux partenaires", 4)]
    # Either table alone gives nothing away.
    assert find_disclosures([published], 11, protected) == []
    assert find_disclosures([home], 11, protected) == []


def test_the_check_finds_a_suppressed_cell_from_the_total_and_across_tables():
    n = "2026-01-29"
    a, b, c = (_atoms(n, code, "rue") for code in ("A", "B", "C"))
    # Total minus the visible cells gives the only suppressed one.
    leaky = PublicTable("communes", (Cell("A", a, 40), Cell("B", b, None), Cell("C", c, 30),
                                     Cell("Total", a | b | c, 75)))  # fmt: skip
    assert [(d.label, d.value) for d in find_disclosures([leaky], 11)] == [("communes : B", 5)]
    # Merged with another, B and C are safe in this table...
    merged = PublicTable("communes", (Cell("A", a, 40), Cell("B", b, None), Cell("C", c, None),
                                      Cell("Autres communes", b | c, 35),
                                      Cell("Total", a | b | c, 75)))  # fmt: skip
    assert find_disclosures([merged], 11) == []
    # ... unless another public table shows C on its own: C (secondary) and then B follow.
    other = PublicTable("carte", (Cell("C", c, 30),))
    assert {d.label: d.value for d in find_disclosures([merged, other], 11)} == {
        "communes : B": 5, "communes : C": 30}


# --- the workflow on the sample ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from observatoire.countnight import lifecycle
    from observatoire.pipeline import open_database
    from observatoire.sample_database import SAMPLE_KEY_FILE, build_sample_database
    from observatoire.survey import list_questionnaires

    data_dir = tmp_path_factory.mktemp("nuits")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    # A fixed key: the perturbation's record keys (hence its noise) the same at each run.
    (data_dir / SAMPLE_KEY_FILE).write_text("3c" * 32 + "\n", encoding="utf-8")
    build_sample_database(settings, "dijon-metropole", seed=11, history=False,
                          partner_feeds=False)  # fmt: skip
    engine = open_database(settings)
    new_id = lifecycle.create_campaign(
        engine, "dijon-metropole", NEW_NIGHT, dt.date(2027, 1, 28),
        questionnaire_version=list_questionnaires()[0], sector_size_m=4000.0, actor="test",
    )  # fmt: skip
    lifecycle.open_campaign(engine, new_id, "test")
    yield settings, engine, new_id
    engine.dispose()


def _cli(settings, *argv) -> int:
    from observatoire.cli import main

    os.environ["OBSERVATOIRE_DATA_DIR"] = str(settings.data_dir)
    try:
        return main(list(argv))
    finally:
        del os.environ["OBSERVATOIRE_DATA_DIR"]


def _public_pages(settings, monkeypatch) -> str:
    """The text of the public home and published pages (AppTest, public role)."""
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    texts = []
    for path in ("streamlit_app.py", "dashboards/publication.py"):
        st.cache_data.clear()
        st.cache_resource.clear()
        app = AppTest.from_file(str(REPO / path), default_timeout=120).run()
        assert not app.exception, app.exception
        for kind in ("title", "subheader", "markdown", "caption", "info", "error"):
            texts += [str(e.value) for e in getattr(app, kind)]
        texts += [m.value for m in app.metric]
        texts += [app.dataframe[i].value.to_string() for i in range(len(app.dataframe))]
    sys.modules.pop("dashboards.tableau_commun", None)
    return "\n".join(texts)


def _export(settings, tmp_path, *extra) -> str:
    out = tmp_path / f"export{len(list(tmp_path.iterdir()))}"
    assert _cli(settings, "publish", "--output", str(out), "--formats", "html", "csv",
                *extra) == 0  # fmt: skip
    import plotly.offline

    # The inlined plotly.js library is code, not published figures.
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    return html.replace(plotly.offline.get_plotlyjs(), "")


def test_sample_nights_are_published_and_pass_the_differencing_check(sample):
    from observatoire.nights import list_nights, published_publication

    settings, engine, new_id = sample
    nights = list_nights(engine).set_index("campaign_id")
    assert nights.loc[new_id, "status"] == "open"
    sample_night = nights[nights["name"] != NEW_NIGHT].iloc[0]
    assert sample_night["status"] == "published" and sample_night["version"] == 1
    publication, _ = published_publication(engine, "dijon-metropole")
    assert check_publications([publication], publication.rules.threshold) == []
    # Walked sectors, not planned ones.
    assert 0 < publication.summary["secteurs"] <= sample_night["sectors"]
    assert publication.summary["secteurs"] == sample_night["walked"]


def test_an_unpublished_night_reaches_no_public_page_nor_export(sample, monkeypatch, tmp_path,
                                                                 capsys):  # fmt: skip
    from observatoire.nights import close_night, validate_night

    settings, engine, new_id = sample
    for step in ("open", "closed", "validated"):
        if step == "closed":
            close_night(engine, new_id, "coordinatrice")
        if step == "validated":
            validate_night(engine, new_id, "marie", sign_off="nuit de test")
        text = _public_pages(settings, monkeypatch)
        assert NEW_NIGHT not in text, step
        assert "synthétique" in text  # the published sample night is what shows
        assert NEW_NIGHT not in _export(settings, tmp_path), step
        # Not silently: the newer night left out is named, with its next step.
        notice = capsys.readouterr().err
        assert f"« {NEW_NIGHT} » du 28/01/2027 (n°{new_id}" in notice, step
        assert "la dernière nuit publiée" in notice
        next_step = {"open": f"observatoire nuit close {new_id}",
                     "closed": f"observatoire nuit validate {new_id}",
                     "validated": f"publiez-la avec `observatoire nuit publish {new_id}`"}
        assert next_step[step] in notice, notice
        assert _cli(settings, "publish", "--campaign", str(new_id), "--output",
                    str(tmp_path / "refus"), "--formats", "csv") == 2  # fmt: skip
        error = capsys.readouterr().err
        assert "n'est pas publiée" in error and f"observatoire nuit publish {new_id}" in error


def test_publishing_then_correcting_keeps_every_version(sample, monkeypatch, tmp_path, capsys):
    from observatoire.nights import version_history

    settings, engine, new_id = sample
    assert _cli(settings, "nuit", "publish", str(new_id), "--actor", "marie") == 0
    assert "version 1" in capsys.readouterr().out
    assert NEW_NIGHT in _public_pages(settings, monkeypatch)
    capsys.readouterr()
    html = _export(settings, tmp_path)
    assert NEW_NIGHT in html and "Données au" in html and "None" not in html
    assert "Attention" not in capsys.readouterr().err  # the newest night is the one written
    assert _cli(settings, "nuit", "publish", str(new_id), "--note", "correction") == 0
    history = version_history(engine, new_id)
    assert history["version"].tolist() == [2, 1]
    assert _cli(settings, "nuit", "list") == 0
    listing = capsys.readouterr().out
    assert CampaignStatus.PUBLISHED.label in listing and "v2 du" in listing


def test_steps_out_of_order_are_refused_in_french(sample, capsys):
    settings, engine, new_id = sample
    # A published night cannot be closed nor validated again: a correction is a new version.
    assert _cli(settings, "nuit", "validate", str(new_id), "--signer-les-anomalies",
                "--commentaire", "test") == 2
    assert f"nouvelle version avec `observatoire nuit publish {new_id}`" in capsys.readouterr(
        ).err
    assert _cli(settings, "nuit", "close", str(new_id)) == 2
    assert "déjà close" in capsys.readouterr().err
    # An open night can be neither validated nor published.
    from observatoire.countnight import lifecycle
    from observatoire.survey import list_questionnaires

    other = lifecycle.create_campaign(
        engine, "dijon-metropole", "Nuit ouverte", dt.date(2026, 12, 1),
        questionnaire_version=list_questionnaires()[0], sector_size_m=6000.0, actor="test",
    )  # fmt: skip
    lifecycle.open_campaign(engine, other, "test")
    assert _cli(settings, "nuit", "validate", str(other), "--signer-les-anomalies",
                "--commentaire", "test") == 2
    assert f"`observatoire nuit close {other}`" in capsys.readouterr().err
    assert _cli(settings, "nuit", "publish", str(other)) == 2
    assert "seule une nuit validée peut être publiée" in capsys.readouterr().err


def test_published_tables_never_read_none_and_the_first_change_reads_premiere_nuit(
    sample, monkeypatch,
):  # fmt: skip
    from observatoire.nights import published_publication
    from observatoire.publish.export import commune_table_fr

    settings, engine, _ = sample
    publication, _ = published_publication(engine, "dijon-metropole")
    assert publication.trend["evolution_pct"].iloc[0] == "première nuit"
    assert "secret" not in publication.trend["evolution_pct"].iloc[0]
    # A commune is named, not coded: every commune row has its name, never its code alone.
    cells = publication.commune_cells()
    assert cells["nom"].map(lambda n: isinstance(n, str) and n and not n.isdigit()).all()
    assert (cells["nom"] != cells["code"]).all()
    assert "None" not in commune_table_fr(publication).astype(str).to_string()
    text = _public_pages(settings, monkeypatch)
    assert "None" not in text and "<NA>" not in text and "nan" not in text.split()
    for frame in (publication.communes, publication.places, publication.trend,
                  publication.key_figures):  # fmt: skip
        assert "None" not in frame.astype(str).to_string()
    # Shares are published to whole percents only.
    shares = publication.profile["part"].dropna()
    assert (shares.round(2) == shares).all()
    assert not publication.communes["nom"].isna().any()


def _crafted_publication(with_unlocated_row: bool):
    """A night of 417 people: 1 in a partner place of no known commune."""
    import pandas as pd

    from observatoire.publish import DisclosureRules, Publication

    communes = [("21231", "Dijon", 320, "publié"), ("21166", "Chenôve", 21, "publié"),
                ("21617", "Talant", 75, "publié")]  # fmt: skip
    if with_unlocated_row:
        communes += [("", "Commune non renseignée", None, "secret (effectif < seuil)"),
                     ("", "Autres communes", None, "regroupement")]  # fmt: skip
        # Alone under the threshold, the unlocated row must merge with another cell.
        communes[2] = ("21617", "Talant", None, "secret (secret secondaire)")
        communes[-1] = ("", "Autres communes", 76, "regroupement")
    communes.append(("", "Total", 417 if with_unlocated_row else 416, "total"))
    frame = pd.DataFrame(communes, columns=["code", "nom", "personnes", "statut"]).assign(
        population=1000, pour_10000=None)
    frame["personnes"] = frame["personnes"].astype("Int64")
    places = pd.DataFrame([("Rue (équipes bénévoles)", 307, "publié"), ("Gares", 110, "publié"),
                           ("Total", 417, "total")], columns=["libelle", "personnes", "statut"])
    places["personnes"] = places["personnes"].astype("Int64")
    return Publication(
        territory="Dijon Métropole", campaign="Nuit fictive", night_date=dt.date(2026, 1, 29),
        rules=DisclosureRules(), key_figures=pd.DataFrame(columns=["indicateur", "valeur"]),
        communes=frame, places=places,
        trend=pd.DataFrame({"campagne": ["Nuit fictive"], "nuit": [dt.date(2026, 1, 29)],
                            "personnes": pd.array([417], dtype="Int64")}),
        profile=pd.DataFrame(columns=["indicateur", "part"]),
    )  # fmt: skip


def test_a_tally_of_no_commune_is_exposed_by_totals_unless_it_has_a_row():
    found = check_publications([_crafted_publication(False)], 11)
    assert [(d.label, d.value) for d in found] == [
        ("Commune inconnue (2026-01-29), lieux partenaires", 1)]
    assert check_publications([_crafted_publication(True)], 11) == []


def test_the_campaigns_page_publishes_a_correction_as_the_signed_in_person(sample, monkeypatch):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from observatoire.nights import version_history
    from observatoire.store.tables import AuditLogRow

    settings, engine, new_id = sample
    before = version_history(engine, new_id)["version"].max()
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(REPO / "dashboards/campagnes.py"), default_timeout=120)
    from test_survey_factories import sign_in_staff

    sign_in_staff(app, "marie", engine)
    app.run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Statut"] == CampaignStatus.PUBLISHED.label
    next(b for b in app.button if b.label == "Publier une correction").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert version_history(engine, new_id)["version"].max() == before + 1
    with Session(engine) as session:
        actor = session.scalar(select(AuditLogRow.actor).where(
            AuditLogRow.action == "campaign.publish").order_by(AuditLogRow.id.desc()))
    assert actor == "marie"


def test_the_estimate_reads_the_same_on_the_terminal_a_tile_the_publication_and_the_report(
    tmp_path, monkeypatch, capsys,
):  # fmt: skip
    """One linkage run, one string: `observatoire link --stored` on the terminal, the
    dashboard's tile (value and caption), the published page's key figure, the published
    HTML and the yearly report all read `estimate_text` of the run."""
    import html as html_module

    from observatoire.indicators.wording import estimate_label, estimate_text
    from observatoire.nights import list_nights
    from observatoire.pipeline import open_database
    from observatoire.sample_database import SAMPLE_KEY_FILE, build_sample_database
    from observatoire.store import linkage_repository

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    # A fixed pseudonymisation key: the same linkage, hence the same estimates, each run.
    (tmp_path / SAMPLE_KEY_FILE).write_text("5a" * 32 + "\n", encoding="utf-8")
    build_sample_database(settings, "dijon-metropole", seed=11, n_people=300, history=False)
    capsys.readouterr()
    # A new run from the terminal, then the night published again: the same run everywhere.
    assert _cli(settings, "link", "--stored", "--key-file",
                str(settings.data_dir / SAMPLE_KEY_FILE)) == 0  # fmt: skip
    terminal = capsys.readouterr().err
    engine = open_database(settings)
    with Session(engine) as session:
        text = estimate_text(linkage_repository.people_estimate(session))
    night = int(list_nights(engine)["campaign_id"].iloc[0])
    assert _cli(settings, "nuit", "publish", str(night), "--note", "nouveau rapprochement") == 0
    assert f"{estimate_label()} : {text} ;" in terminal, terminal
    assert f"{estimate_label()} : {text}\n" in capsys.readouterr().out  # `nuit publish`
    assert "(intervalle à 90 % : " in text

    html = _export(settings, tmp_path)
    assert html_module.escape(text) in html
    assert f"{estimate_label()} : {text}\n" in capsys.readouterr().err  # `publish`

    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    from test_survey_factories import sign_in_staff

    shown = {}
    for page in ("tableau.py", "publication.py"):
        st.cache_data.clear()
        st.cache_resource.clear()
        app = AppTest.from_file(str(REPO / "dashboards" / page), default_timeout=120)
        if page == "tableau.py":
            sign_in_staff(app, "marie", engine)
        app.run()
        assert not app.exception, app.exception
        shown[page] = app
    sys.modules.pop("dashboards.tableau_commun", None)
    from observatoire.indicators import load_catalogue

    tile_label = load_catalogue()["distinct_people"].tile_label  # the tile's short label
    tile = next(m for m in shown["tableau.py"].metric if m.label == tile_label)
    captions = [c.value for c in shown["tableau.py"].caption]
    assert f"{tile.value} ({next(c for c in captions if c in text)})" == text
    public = [m.value for m in shown["publication.py"].markdown]
    assert f"**{estimate_label()}** : {text}" in public
    from observatoire.evaluation.service import annual_report

    # The yearly report of the convention's last year (Dijon 2023-2025): the same figure.
    report = annual_report(engine, "dijon-metropole", 2025)
    engine.dispose()
    rows = report.overview.set_index("Indicateur")["Valeur"]
    assert rows[estimate_label()] == text


def test_a_night_published_with_cell_key_perturbation(sample):
    pytest.importorskip("cell_key_perturbation")
    from observatoire.nights import list_nights, publish_night, published_publication
    from observatoire.publish import DisclosureRules
    from observatoire.sample_database import sample_secret_key

    settings, engine, new_id = sample
    nights = list_nights(engine)
    sample_id = int(nights.loc[nights["name"].str.contains("échantillon"), "campaign_id"].iloc[0])
    plain, _ = published_publication(engine, "dijon-metropole", sample_id)
    rules = DisclosureRules(perturbation=True)
    key = sample_secret_key(settings)
    first = publish_night(engine, sample_id, "marie", rules, perturbation_key=key)
    again = publish_night(engine, sample_id, "marie", rules, perturbation_key=key)
    assert "Perturbation par clé de cellule" in first.methodology
    # Repeatable: the same people get the same noise at each publication.
    assert first.communes["personnes"].equals(again.communes["personnes"])
    shown = first.communes.loc[first.communes["statut"] == "publié", ["nom", "personnes"]]
    before = plain.communes.set_index("nom")["personnes"]
    noise = [int(p) - int(before[n]) for n, p in shown.itertuples(index=False)
             if not pd.isna(before[n])]  # fmt: skip
    assert noise and max(abs(x) for x in noise) <= 2 and any(noise)
    assert ((shown["personnes"] == 0) | (shown["personnes"] >= 11)).all()


# --- across nights: earlier published nights, trends, corrections ------------------------------


def _night(date: str, counts: dict[tuple[str, str], tuple[int, int]], trend=None):
    """A publication protected by the real rules from raw counts: ``(code, name) ->
    (street, station)`` people."""
    from observatoire.publish import DisclosureRules, Publication, protect_counts

    day = dt.date.fromisoformat(date)
    rules = DisclosureRules()
    table = pd.DataFrame([(code, name, 1000, rue + gares) for (code, name), (rue, gares)
                          in counts.items()], columns=["code", "nom", "population", "personnes"])
    communes = protect_counts(table, "personnes", "nom", rules, keep=("code",),
                              sum_columns=("population",)).assign(pour_10000=None)
    street = sum(r for r, _ in counts.values())
    stations = sum(g for _, g in counts.values())
    places = protect_counts(pd.DataFrame({"libelle": ["Rue (équipes bénévoles)", "Gares"],
                                          "personnes": [street, stations]}),
                            "personnes", "libelle", rules)  # fmt: skip
    total = street + stations
    trend = trend if trend is not None else pd.DataFrame({
        "campagne": [f"Nuit {date[:4]}"], "nuit": [day],
        "personnes": pd.array([total], dtype="Int64"), "evolution_pct": ["première nuit"]})
    return Publication(territory="Dijon Métropole", campaign=f"Nuit {date[:4]}",
                       night_date=day, rules=rules,
                       key_figures=pd.DataFrame(columns=["indicateur", "valeur"]),
                       communes=communes, places=places, trend=trend,
                       profile=pd.DataFrame(columns=["indicateur", "part"]))  # fmt: skip


def _street_surface(date: str, counts: dict) -> PublicTable:
    """The old public home: street counts per commune, on the publication's atoms."""
    return PublicTable(f"accueil {date[:4]} (rue)", tuple(
        Cell(name, frozenset({(date, code, "rue")}), rue)
        for (code, name), (rue, _) in counts.items()))  # fmt: skip


NIGHT_2023 = {("21231", "Dijon"): (240, 70), ("21617", "Talant"): (12, 3),
              ("21166", "Chenôve"): (20, 0), ("21515", "Quetigny"): (30, 0)}
NIGHT_2024 = {("21231", "Dijon"): (250, 80), ("21166", "Chenôve"): (15, 6),
              ("21617", "Talant"): (14, 0), ("21515", "Quetigny"): (25, 0)}


def test_the_check_covers_the_earlier_published_nights_chenove_2024_and_talant_2023():
    """The issue's "Chenôve 2024 gives 6 and Talant 2023 gives 3": each night's tables
    are safe alone; beside a street-per-commune surface of each night, publishing 2024
    must find its own leak and the one of the 2023 night still public."""
    p2023, p2024 = _night("2023-01-26", NIGHT_2023), _night("2024-01-25", NIGHT_2024)
    assert check_publications([p2024, p2023], 11) == []
    surfaces = [_street_surface("2024-01-25", NIGHT_2024),
                _street_surface("2023-01-26", NIGHT_2023)]  # fmt: skip
    found = {d.label: d.value for d in check_publications([p2024, p2023], 11, surfaces)}
    assert found == {"Chenôve (2024-01-25), lieux partenaires": 6,
                     "Talant (2023-01-26), lieux partenaires": 3}
    # Without the earlier night's tables, its leak goes unseen: they must be given.
    alone = {d.label for d in check_publications([p2024], 11, surfaces[:1])}
    assert alone == {"Chenôve (2024-01-25), lieux partenaires"}


def _trend_2024(total_2023, change: str):
    return pd.DataFrame({
        "campagne": ["Nuit 2023", "Nuit 2024"],
        "nuit": [dt.date(2023, 1, 26), dt.date(2024, 1, 25)],
        "personnes": pd.array([total_2023, 390], dtype="Int64"),
        "evolution_pct": ["première nuit", change]})  # fmt: skip


def test_a_later_trend_must_show_the_earlier_night_as_published():
    """A total recomputed from today's data (3 people tallied late in Talant) differs from
    the 2023 publication (375): the 2024 trend would give the 3 away."""
    p2023 = _night("2023-01-26", NIGHT_2023)
    assert p2023.total == 375
    late = _night("2024-01-25", NIGHT_2024, trend=_trend_2024(378, "+3,2 %"))
    found = check_publications([late, p2023], 11)
    assert [d.value for d in found] == [3] and "Nuit 2023" in found[0].label
    as_published = _night("2024-01-25", NIGHT_2024, trend=_trend_2024(375, "+4,0 %"))
    assert check_publications([as_published, p2023], 11) == []


def test_a_published_change_must_not_give_back_a_secret_total():
    """2023's total (5) is secret; a change of +7 700 % beside 2024's 390 gives it back."""
    leaky = _night("2024-01-25", NIGHT_2024, trend=_trend_2024(None, "+7700,0 %"))
    found = check_publications([leaky], 11)
    assert [(d.value, "évolution" in d.label) for d in found] == [(5, True)]
    safe = _night("2024-01-25", NIGHT_2024, trend=_trend_2024(None, "secret"))
    assert check_publications([safe], 11) == []


def test_a_correction_keeps_secret_what_an_earlier_version_kept_secret():
    from observatoire.publish.disclosure import PRIMARY, PUBLISHED, SECONDARY, suppression_pattern

    values = [40, 30, 25, 3, 12]
    status, _ = suppression_pattern(values, 11)
    assert list(status) == [PUBLISHED, PUBLISHED, PUBLISHED, PRIMARY, SECONDARY]
    # Version 1 kept the 25 secret: version 2 keeps it, and needs no other cell.
    status, hidden = suppression_pattern(values, 11, secret=[False, False, True, False, False])
    assert list(status) == [PUBLISHED, PUBLISHED, SECONDARY, PRIMARY, PUBLISHED] and not hidden


def nights_status(engine, campaign_id: int) -> str:
    from observatoire.nights import list_nights

    return list_nights(engine).set_index("campaign_id").loc[campaign_id, "status"]


def test_validation_runs_the_quality_checks_and_needs_a_signed_comment(sample, capsys,
                                                                        monkeypatch):
    from sqlalchemy import select

    from observatoire.countnight import lifecycle
    from observatoire.nights import close_night
    from observatoire.store.tables import AuditLogRow
    from observatoire.survey import list_questionnaires

    settings, engine, _ = sample
    night = lifecycle.create_campaign(
        engine, "dijon-metropole", "Nuit à valider", dt.date(2026, 11, 15),
        questionnaire_version=list_questionnaires()[0], sector_size_m=6000.0, actor="test",
    )  # fmt: skip
    lifecycle.open_campaign(engine, night, "test")
    close_night(engine, night, "coordinatrice")
    # Nothing entered, no partner tally, no sector report: refused, every problem listed.
    assert _cli(settings, "nuit", "validate", str(night)) == 2
    error = capsys.readouterr().err
    assert "Validation de « Nuit à valider » refusée" in error
    for problem in ("Aucune fiche saisie", "Aucun décompte des partenaires",
                    "Des secteurs prévus n'ont pas de compte rendu"):  # fmt: skip
        assert problem in error, error
    assert "--signer-les-anomalies" in error
    # Signing off needs a comment saying why.
    assert _cli(settings, "nuit", "validate", str(night), "--signer-les-anomalies") == 2
    assert "--commentaire" in capsys.readouterr().err
    # On the campaigns page: the problems shown, the button off until signed with a comment.
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_data.clear()
    st.cache_resource.clear()
    from test_survey_factories import sign_in_staff

    app = AppTest.from_file(str(REPO / "dashboards/campagnes.py"), default_timeout=120)
    sign_in_staff(app, "marie", engine)
    app.run()
    next(s for s in app.selectbox if s.label == "Campagne").select(night).run()
    assert any("Aucune fiche saisie" in w.value for w in app.warning)

    def validate_button():
        return next(b for b in app.button if b.label == "Valider la nuit")

    assert validate_button().disabled
    next(c for c in app.checkbox if c.label.startswith("Je signe ces anomalies")).check().run()
    assert validate_button().disabled  # no comment yet
    app.text_input(key="campagnes_commentaire_anomalies").input(
        "nuit annulée (neige), chiffres nuls attendus").run()
    validate_button().click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert CampaignStatus(nights_status(engine, night)) is CampaignStatus.VALIDATED
    with Session(engine) as session:
        row = session.scalars(select(AuditLogRow).where(
            AuditLogRow.action == "campaign.validate").order_by(AuditLogRow.id.desc())).first()
    assert row.actor == "marie" and row.details["campaign_id"] == night
    assert row.details["signed_off"] == "nuit annulée (neige), chiffres nuls attendus"
    assert any("Aucune fiche saisie" in p for p in row.details["quality_problems"])


def test_the_estimate_of_everybody_is_published_only_as_a_protected_interval(sample):
    """Issue 16 on the public side: the multiple-systems estimate joins a publication
    only when asked, as its interval (bounds widened to tens, never a bare point), with
    its method in the methodology; refused when the database has nothing to estimate
    from."""
    from observatoire.indicators.service import load_inputs
    from observatoire.indicators.wording import HIDDEN_LABEL
    from observatoire.nights import PublicationStepError, publish_night, version_history
    from observatoire.publish import build_publication
    from observatoire.publish.disclosure import protect_interval

    settings, engine, new_id = sample
    inputs = load_inputs(engine, "dijon-metropole", with_feeds=False)
    plain = build_publication(inputs, new_id)
    assert HIDDEN_LABEL not in set(plain.key_figures["indicateur"])
    published = build_publication(inputs, new_id, hidden=(2104.3, 3087.9))
    figures = dict(zip(published.key_figures["indicateur"], published.key_figures["valeur"],
                       strict=True))  # fmt: skip
    assert figures[HIDDEN_LABEL] == "intervalle à 95 % : 2\u202f100 à 3\u202f090"
    assert "capture-recapture" in published.methodology
    assert "Publiée en intervalle seulement" in published.methodology
    # A handful of people estimated is not published.
    assert protect_interval(4.2, 30.0) is None and protect_interval(11, 19.5) is None
    assert protect_interval(24, 39.5) == (20, 40)
    # The sample of this module has no partner file: nothing to estimate from.
    before = len(version_history(engine, new_id))
    with pytest.raises(PublicationStepError, match="aucune personne rapprochée"):
        publish_night(engine, new_id, "marie", with_hidden_estimate=True)
    assert len(version_history(engine, new_id)) == before


REPORT_NIGHT = "Nuit de test du rapport"


def _report_rows(engine, year: int) -> tuple[pd.Series, pd.Series]:
    from observatoire.evaluation.service import annual_report

    report = annual_report(engine, "dijon-metropole", year)
    return (report.overview.set_index("Indicateur")["Valeur"],
            report.actions.set_index("N°")[f"Valeur(s) {year}"])  # fmt: skip


def test_the_yearly_report_lists_a_night_only_once_published(sample):
    """The execution report reads the published version of a night, nothing else: an
    unpublished night (closed, validated) is absent; once published, its figure is the
    published one, and stays so when the raw data change afterwards (a new version is what
    changes it). The estimate of everybody reads "non publiée" until a night holds it."""
    from sqlalchemy import delete, func, select

    from observatoire.countnight import replay
    from observatoire.evaluation.report import NOT_ENTERED, NOT_PUBLISHED
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.indicators.wording import HIDDEN_LABEL
    from observatoire.nights import (
        publish_night,
        published_nights,
        published_publication,
        validate_night,
    )
    from observatoire.sample_database import SAMPLE_SECTOR_SIZE_M
    from observatoire.store import repository
    from observatoire.store.tables import ObservationRow
    from observatoire.synthetic import generate_sample

    settings, engine, _ = sample
    with Session(engine) as session:
        communes = repository.territory_communes(session, "dijon-metropole")
    sectors = generate_grid_sectors(communes, SAMPLE_SECTOR_SIZE_M)
    night = generate_sample(communes, sectors, seed=25, n_people=300,
                            night_date=dt.date(2025, 1, 30), campaign_name=REPORT_NIGHT)
    night_id, _ = replay.replay_sample(engine, "dijon-metropole", night, sectors,
                                           name=REPORT_NIGHT, lock=True)  # fmt: skip
    row = "Nuit de la Solidarité du 30/01/2025 : personnes décomptées (a minima)"
    # Closed, then validated: not in the report (neither the overview nor action 15).
    for step in ("closed", "validated"):
        if step == "validated":
            validate_night(engine, night_id, "marie", sign_off="nuit de test du rapport")
        overview, actions = _report_rows(engine, 2025)
        assert row not in overview.index, step
        assert overview["Nuit de la Solidarité 2025"] == NOT_ENTERED, step
        assert actions["15"] == NOT_ENTERED, step
        assert night_id not in set(published_nights(engine, "dijon-metropole")["campaign_id"])
    assert overview[HIDDEN_LABEL] == NOT_PUBLISHED

    publish_night(engine, night_id, "marie")
    publication, _ = published_publication(engine, "dijon-metropole", night_id)
    published = publication.night_figures()
    assert published["total"] is not None and published["total"] >= 11
    assert published["rue"] + published["lieux"] == published["total"]
    shown = f"{published['total']:,}".replace(",", "\u202f") + " personnes"
    overview, actions = _report_rows(engine, 2025)
    assert overview[row] == shown
    assert actions["15"] == shown
    assert "Nuit de la Solidarité 2025" not in overview.index
    assert overview[HIDDEN_LABEL] == NOT_PUBLISHED  # published without it

    # The raw data change after publication (a third of the street records go): the
    # report keeps the published figure.
    with Session(engine) as session, session.begin():
        ids = session.scalars(select(ObservationRow.id)
                              .where(ObservationRow.campaign_id == night_id)).all()
        session.execute(delete(ObservationRow).where(ObservationRow.id.in_(ids[::3])))
        left = session.scalar(select(func.count()).select_from(ObservationRow)
                              .where(ObservationRow.campaign_id == night_id))  # fmt: skip
    assert left < len(ids)
    overview, actions = _report_rows(engine, 2025)
    assert overview[row] == shown and actions["15"] == shown


def test_a_crafted_chenove_night_passes_published_and_fails_beside_a_street_page():
    """The issue's Chenôve night built through `build_publication` (17 in the street, 4 in
    partner places; Dijon 244 and 76): the publication alone gives nothing away; a page
    showing the street count per commune beside it (what the home page used to show) is
    found by the check, which names Chenôve's 4 people in partner places."""
    from observatoire.indicators import IndicatorInputs
    from observatoire.publish import build_publication
    from observatoire.publish.attack import STREET

    street = {"21231": 244, "21166": 17, "21617": 30, "21515": 16}
    inputs = IndicatorInputs(
        communes=pd.DataFrame({"code": list(street), "nom": ["Dijon", "Chenôve", "Talant",
                                                             "Quetigny"],
                               "population": [160_000, 14_000, 11_000, 10_000]}),
        campaigns=pd.DataFrame({"campaign_id": [1], "name": ["Nuit fictive"],
                                "night_date": [dt.date(2026, 1, 29)], "method": ["rue"],
                                "status": ["published"]}),
        observations=pd.DataFrame([
            {"campaign_id": 1, "commune_code": code, "sector_code": f"S{code}",
             "situation": "interviewed", "sex": None, "age_band": None,
             "sleeping_place": None}
            for code, n in street.items() for _ in range(n)]),
        place_tallies=pd.DataFrame({"campaign_id": [1, 1], "place_kind": ["gare", "gare"],
                                    "people": [76, 4], "commune_code": ["21231", "21166"]}),
    )  # fmt: skip
    publication = build_publication(inputs, 1)
    shown = publication.communes.set_index("nom")["personnes"]
    assert shown["Chenôve"] == 21 and shown["Dijon"] == 320
    assert check_publications([publication], 11) == []
    night = "2026-01-29"
    home = PublicTable("accueil (rue par commune)", tuple(
        Cell(code, frozenset({(night, code, STREET)}), n) for code, n in street.items()))
    found = check_publications([publication], 11, surfaces=[home])
    assert [(d.label, d.value) for d in found if d.value < 11] == [
        ("Chenôve (2026-01-29), lieux partenaires", 4)]
