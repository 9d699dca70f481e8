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
    from observatoire import countnight
    from observatoire.pipeline import build_sample_database, open_database
    from observatoire.survey import list_questionnaires

    data_dir = tmp_path_factory.mktemp("nuits")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=11, history=False,
                          partner_feeds=False)  # fmt: skip
    engine = open_database(settings)
    new_id = countnight.create_campaign(
        engine, "dijon-metropole", NEW_NIGHT, dt.date(2027, 1, 28),
        questionnaire_version=list_questionnaires()[0], sector_size_m=4000.0, actor="test",
    )  # fmt: skip
    countnight.open_campaign(engine, new_id, "test")
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
            validate_night(engine, new_id, "marie", quality_signed_off=True)
        text = _public_pages(settings, monkeypatch)
        assert NEW_NIGHT not in text, step
        assert "synthétique" in text  # the published sample night is what shows
        assert NEW_NIGHT not in _export(settings, tmp_path), step
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
    html = _export(settings, tmp_path)
    assert NEW_NIGHT in html and "Données au" in html and "None" not in html
    assert _cli(settings, "nuit", "publish", str(new_id), "--note", "correction") == 0
    history = version_history(engine, new_id)
    assert history["version"].tolist() == [2, 1]
    assert _cli(settings, "nuit", "list") == 0
    listing = capsys.readouterr().out
    assert CampaignStatus.PUBLISHED.label in listing and "v2 du" in listing


def test_steps_out_of_order_are_refused_in_french(sample, capsys):
    settings, engine, new_id = sample
    # A published night cannot be closed nor validated again: a correction is a new version.
    assert _cli(settings, "nuit", "validate", str(new_id), "--qualite-verifiee") == 2
    assert f"nouvelle version avec `observatoire nuit publish {new_id}`" in capsys.readouterr(
        ).err
    assert _cli(settings, "nuit", "close", str(new_id)) == 2
    assert "déjà close" in capsys.readouterr().err
    # An open night can be neither validated nor published.
    from observatoire import countnight
    from observatoire.survey import list_questionnaires

    other = countnight.create_campaign(
        engine, "dijon-metropole", "Nuit ouverte", dt.date(2026, 12, 1),
        questionnaire_version=list_questionnaires()[0], sector_size_m=6000.0, actor="test",
    )  # fmt: skip
    countnight.open_campaign(engine, other, "test")
    assert _cli(settings, "nuit", "validate", str(other), "--qualite-verifiee") == 2
    assert f"`observatoire nuit close {other}`" in capsys.readouterr().err
    assert _cli(settings, "nuit", "publish", str(other)) == 2
    assert "seule une nuit validée peut être publiée" in capsys.readouterr().err


def test_published_tables_never_read_none_and_the_first_change_reads_a_dash(sample):
    from observatoire.nights import published_publication

    _, engine, _ = sample
    publication, _ = published_publication(engine, "dijon-metropole")
    assert publication.trend["evolution_pct"].iloc[0] == "—"
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


def test_the_estimate_and_its_interval_read_the_same_on_the_terminal_and_the_publication(
    tmp_path,
):
    from observatoire.nights import published_publication
    from observatoire.pipeline import build_sample_database, open_database
    from observatoire.publish.report import DEDUP_LABEL, estimate_text
    from observatoire.store import linkage_repository

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    said = []
    build_sample_database(settings, "dijon-metropole", seed=11, n_people=300, history=False,
                          progress=said.append)  # fmt: skip
    engine = open_database(settings)
    with Session(engine) as session:
        run = linkage_repository.latest_run(session)
        text = estimate_text(run.people_estimate, run.people_low, run.people_high)
    publication, _ = published_publication(engine, "dijon-metropole")
    engine.dispose()
    figures = dict(zip(publication.key_figures["indicateur"], publication.key_figures["valeur"],
                       strict=True))  # fmt: skip
    assert figures[DEDUP_LABEL] == text
    assert any(f"{DEDUP_LABEL} : {text}" in line for line in said), said[-3:]


def test_a_night_published_with_cell_key_perturbation(sample):
    pytest.importorskip("cell_key_perturbation")
    from observatoire.nights import list_nights, publish_night, published_publication
    from observatoire.pipeline import sample_secret_key
    from observatoire.publish import DisclosureRules

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
