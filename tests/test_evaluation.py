"""The convention as data and the execution report (`observatoire.evaluation`)."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from observatoire.cli import main
from observatoire.evaluation.convention import (
    ConventionError,
    all_conventions,
    load_convention,
)
from observatoire.evaluation.report import NOT_ENTERED, SECRET, build_annual_report
from observatoire.publish.disclosure import DisclosureRules

NIGHTS = pd.DataFrame({"campaign_id": [1, 2], "name": ["NDLS 2023", "NDLS 2025"],
                       "night_date": pd.to_datetime(["2023-01-26", "2025-01-30"]),
                       "total": [290, 320]})


def _values(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["indicator_id", "year", "value"])


def test_the_shipped_conventions_hold_their_annexes():
    dijon = load_convention("dijon-metropole", 2025)
    assert dijon.period == (2023, 2025) and len(dijon.actions) == 17
    assert dijon.deadline(2025).isoformat() == "2026-09-30"
    amounts = {a.number: a.budget.get(2023) for a in dijon.actions}
    assert (amounts["8"], amounts["18b"], amounts["13"]) == (120_000, 117_031, 27_430)
    amp = load_convention("aix-marseille-provence", 2022)
    assert amp.period == (2021, 2022) and len(amp.actions) == 25
    assert amp.deadline(2022).isoformat() == "2023-03-31"
    iml = next(i for a, i in amp.indicators() if i.id == "iml_places")
    assert amp.target(iml, 2022) == (1100, 2022)
    primo = next(i for a, i in amp.indicators() if i.id == "logements_primo_sdf")
    assert [amp.target(primo, y)[0] for y in (2021, 2022)] == [15, 20]
    assert {c.territory for c in all_conventions()} >= {"dijon-metropole",
                                                        "aix-marseille-provence"}


def test_a_year_outside_every_convention_is_refused_in_french():
    with pytest.raises(ConventionError, match="ne couvre 2030"):
        load_convention("dijon-metropole", 2030)
    with pytest.raises(ConventionError, match="Aucune convention pour le territoire"):
        load_convention("paris")


def test_a_territory_adds_its_own_convention(tmp_path, monkeypatch):
    (tmp_path / "paris.yaml").write_text(
        "territory: paris\ntitle: Convention test\nperiod: [2024, 2026]\n"
        "report_deadline: '06-30'\nsource: test\nactions:\n"
        "  - {number: '1', title: Maraudes, priority: 4, indicators: [{id: maraudes_nuit, "
        "label: Maraudes de nuit, unit: actions, targets: {each_year: 12}}]}\n",
        encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONVENTIONS_DIR", str(tmp_path))
    convention = load_convention("paris", 2025)
    assert convention.actions[0].indicators[0].targets == {"each_year": 12}
    (tmp_path / "bad.yaml").write_text("territory: x\nperiod: [2024]\n", encoding="utf-8")
    with pytest.raises(ConventionError, match="bad.yaml"):
        load_convention("paris", 2025)


def test_the_report_has_one_row_per_action_with_targets_values_and_gaps():
    convention = load_convention("dijon-metropole", 2025)
    values = _values([("logements_geres_12_mois", 2025, 35), ("a_minima_total", 2025, 320),
                      ("diagnostics_avant_cql", 2024, 50)])
    report = build_annual_report(convention, 2025, values, NIGHTS, (1800, 1650, 1990),
                                 DisclosureRules())
    actions = report.actions.set_index("N°")
    assert list(actions.index) == [a.number for a in convention.actions]
    assert actions.loc["4", "Objectif(s) 2025"] == "40 logements"
    assert actions.loc["4", "Valeur(s) 2025"] == "35 logements"
    assert actions.loc["4", "Écart à l'objectif"] == "-5 (non atteint)"
    # A value of another year is not this year's.
    assert actions.loc["6", "Valeur(s) 2025"] == NOT_ENTERED
    assert actions.loc["2", "Objectif(s) 2025"] == "40 logements (objectif 2021)"
    assert actions.loc["15", "Valeur(s) 2025"] == "320 personnes"
    assert "Diagnostics réalisés avant le commandement de quitter les lieux" in " ".join(
        report.missing)
    overview = " ".join(report.overview.astype(str).to_numpy().ravel())
    # The de-duplicated estimate in the wording of every surface (`indicators.wording`).
    assert "320 personnes" in overview
    assert "1\u202f800 (intervalle à 90 % : 1\u202f650 à 1\u202f990)" in overview
    assert "+30" in overview  # since the first night, 2023
    assert report.budget.set_index("N°").loc["19", "Budget 2023 (€)"] == "124\u202f000"


def test_small_counts_leave_the_report_as_secret():
    convention = load_convention("dijon-metropole", 2025)
    values = _values([("a_minima_total", 2025, 7)])
    report = build_annual_report(convention, 2025, values, NIGHTS.assign(total=[290, 7]),
                                 None, DisclosureRules())
    assert report.actions.set_index("N°").loc["15", "Valeur(s) 2025"] == SECRET
    assert "7" not in " ".join(report.overview["Valeur"])


def test_the_overview_gives_the_estimate_in_all_as_its_published_night_holds_it():
    """The report computes no public figure: the estimate of everybody is the interval the
    year's latest night published with it shows, else "non publiée" and how to publish."""
    from observatoire.evaluation.report import NOT_PUBLISHED
    from observatoire.indicators.wording import HIDDEN_LABEL, hidden_text

    convention = load_convention("dijon-metropole", 2025)
    values = _values([])
    without = build_annual_report(convention, 2025, values, NIGHTS, (1800, 1650, 1990),
                                  DisclosureRules())
    row = without.overview.set_index("Indicateur").loc[HIDDEN_LABEL]
    assert row["Valeur"] == NOT_PUBLISHED
    assert "observatoire nuit publish ID --estimation-totale" in row["Commentaire"]
    held = NIGHTS.assign(hidden=[hidden_text(1900, 2600), hidden_text(2100, 3100)])
    report = build_annual_report(convention, 2025, values, held, (1800, 1650, 1990),
                                 DisclosureRules(rounding=10))
    assert len(report.overview) == len(without.overview)
    row = report.overview.set_index("Indicateur").loc[HIDDEN_LABEL]
    # The published text as it is: the interval only, never a point of the report's own.
    assert row["Valeur"] == "intervalle à 95 % : 2\u202f100 à 3\u202f100"
    assert "30/01/2025" in row["Commentaire"]
    # A night of another year holding it is not this year's.
    older = NIGHTS.assign(hidden=[hidden_text(1900, 2600), None])
    shown = build_annual_report(convention, 2025, values, older, None, DisclosureRules())
    assert shown.overview.set_index("Indicateur").loc[HIDDEN_LABEL, "Valeur"] == NOT_PUBLISHED


def test_a_secret_published_total_reads_secret_in_the_report():
    convention = load_convention("dijon-metropole", 2025)
    nights = NIGHTS.assign(total=[290.0, float("nan")])
    report = build_annual_report(convention, 2025, _values([]), nights, None,
                                 DisclosureRules())
    overview = report.overview.set_index("Indicateur")["Valeur"]
    assert overview["Nuit de la Solidarité du 30/01/2025 : personnes décomptées (a minima)"] \
        == SECRET
    assert overview["Évolution depuis la première nuit (2023)"] == SECRET
    assert report.actions.set_index("N°").loc["15", "Valeur(s) 2025"] == SECRET


@pytest.fixture(scope="module")
def sample_with_history(tmp_path_factory):
    from observatoire.config import load_settings
    from observatoire.sample_database import build_sample_database

    data_dir = tmp_path_factory.mktemp("rapport")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=7, history=True)
    return data_dir


def test_report_annual_on_the_sample(sample_with_history, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(sample_with_history))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    output = tmp_path / "r.xlsx"
    code = main(["report", "annual", "--territory", "dijon-metropole", "--year", "2025",
                 "--output", str(output)])
    assert code == 0, capsys.readouterr().err
    book = load_workbook(output)
    sheet = book["Actions"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True))
            for row in sheet.iter_rows(min_row=2)]
    assert [r["N°"] for r in rows] == [a.number for a in load_convention(
        "dijon-metropole", 2025).actions]
    by_number = {r["N°"]: r for r in rows}
    # The 2025 night of the sample gives the count; figures no feed gives are not entered.
    assert by_number["15"]["Valeur(s) 2025"].endswith("personnes")
    assert by_number["6"]["Valeur(s) 2025"] == NOT_ENTERED
    assert by_number["6"]["Objectif(s) 2025"] == "40 ménages"
    assert {"Bilan global", "Budget", "Méthodes et sources", "Indicateurs"} <= set(
        book.sheetnames)
    assert "30/09/2026" in capsys.readouterr().err
    # The sample's interviewed people answer on their rights: both shares have a value,
    # the one their stored answers give.
    overview = {r[0].value: r[1].value for r in book["Bilan global"].iter_rows(min_row=2)}
    for label, answer in (("Part des personnes interrogées sans aucune ressource", "resources"),
                          ("Part des personnes interrogées sans couverture maladie",
                           "health_cover")):
        none, known = _stored_rights(sample_with_history, 2025, answer)
        assert known >= 100 and 0 < none < known
        assert overview[label] == f"{none / known * 100:.0f} %"
    # First-timers count as the people the linkage expects (not as the persons found,
    # which over-split): never more than the de-duplicated people of the period.
    def people(label_part: str) -> int:
        [value] = [v for k, v in overview.items() if label_part in str(k)]
        return int("".join(ch for ch in str(value).split("(")[0] if ch.isdigit()))

    assert 0 < people("première fois") <= people("dédoublonn")
    # No sample night is published with the estimate in all: the row says how to.
    overview = {r[0].value: (r[1].value, r[2].value)
                for r in book["Bilan global"].iter_rows(min_row=2)}
    hidden = [v for k, v in overview.items() if "systèmes multiples" in k]
    assert len(hidden) == 1 and hidden[0][0] == "non publiée"
    assert "--estimation-totale" in hidden[0][1]
    html = tmp_path / "r.html"
    assert main(["report", "annual", "--territory", "dijon-metropole", "--year", "2025",
                 "--output", str(html)]) == 0
    assert "Rapport d'exécution 2025" in html.read_text(encoding="utf-8")


def _stored_rights(data_dir, year: int, answer: str) -> tuple[int, int]:
    """Of the interviewed people of the published night of ``year``: how many answered
    ``answer`` with « aucune », how many answered it otherwise than « ne sait pas »."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.nights import published_nights
    from observatoire.pipeline import open_database
    from observatoire.store.tables import ObservationRow

    engine = open_database(load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)}))
    nights = published_nights(engine, "dijon-metropole")
    night = nights[pd.to_datetime(nights["night_date"]).dt.year == year].iloc[-1]
    with Session(engine) as session:
        given = [a.get(answer) for a in session.scalars(
            select(ObservationRow.answers).where(
                ObservationRow.campaign_id == int(night["campaign_id"]),
                ObservationRow.situation == "interviewed"))]
    engine.dispose()
    given = [set(g) if isinstance(g, list) else {g} for g in given if g]
    known = [g for g in given if g - {"ne_sait_pas"}]
    return sum("aucune" in g for g in known), len(known)


def _answer_rights(data_dir, year: int, resources: list, health: list) -> None:
    """Give the interviewed people of the territory's published night of ``year`` the
    answers « ressources » and « couverture maladie » as the field entry stores them, one
    person per answer, in place of the sample's: the other interviewed people's are removed
    (as if they had not answered)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.nights import published_nights
    from observatoire.pipeline import open_database
    from observatoire.store.tables import ObservationRow

    engine = open_database(load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)}))
    nights = published_nights(engine, "dijon-metropole")
    night = nights[pd.to_datetime(nights["night_date"]).dt.year == year].iloc[-1]
    with Session(engine) as session, session.begin():
        people = session.scalars(
            select(ObservationRow).where(ObservationRow.campaign_id == int(night["campaign_id"]),
                                         ObservationRow.situation == "interviewed")
            .order_by(ObservationRow.id)).all()
        assert len(people) >= len(resources)
        for row in people:
            row.answers = {k: v for k, v in (row.answers or {}).items()
                           if k not in ("resources", "health_cover")}
        for row, given, cover in zip(people, resources, health, strict=False):
            row.answers = {**row.answers, "resources": given, "health_cover": cover}
    engine.dispose()


def test_people_without_resources_or_health_cover_in_the_report(sample_with_history, tmp_path,
                                                                monkeypatch):
    """Interviewed people's rights answers reach `report annual` as shares, « ne sait
    pas » left out, and a share of fewer than 11 people on one side stays « secret »."""
    import shutil

    data_dir = tmp_path / "donnees"
    shutil.copytree(sample_with_history, data_dir)
    resources = [["aucune"]] * 15 + [["rsa", "mendicite"]] * 30 + [["travail"]] * 15
    health = ["aucune"] * 4 + ["securite_sociale"] * 50 + ["ne_sait_pas"] * 6
    _answer_rights(data_dir, 2025, resources, health)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    output = tmp_path / "r.xlsx"
    assert main(["report", "annual", "--territory", "dijon-metropole", "--year", "2025",
                 "--output", str(output)]) == 0
    overview = {r[0].value: r[1].value
                for r in load_workbook(output)["Bilan global"].iter_rows(min_row=2)}
    assert overview["Part des personnes interrogées sans aucune ressource"] == "25 %"
    assert overview["Part des personnes interrogées sans couverture maladie"] == SECRET


def test_the_report_service_reads_the_estimate_in_all_from_the_published_night(
        sample_with_history):
    """No night of the sample is published with the estimate of everybody: the report says
    so (it computes none of its own); the published nights' totals are the report's."""
    from observatoire.config import load_settings
    from observatoire.evaluation.report import NOT_PUBLISHED
    from observatoire.evaluation.service import annual_report
    from observatoire.indicators.wording import HIDDEN_LABEL
    from observatoire.nights import published_nights
    from observatoire.pipeline import open_database

    engine = open_database(load_settings({"OBSERVATOIRE_DATA_DIR": str(sample_with_history)}))
    report = annual_report(engine, "dijon-metropole", 2025)
    nights = published_nights(engine, "dijon-metropole")
    engine.dispose()
    overview = report.overview.set_index("Indicateur")["Valeur"]
    assert overview[HIDDEN_LABEL] == NOT_PUBLISHED
    night = nights[pd.to_datetime(nights["night_date"]).dt.year == 2025].iloc[-1]
    label = (f"Nuit de la Solidarité du {pd.Timestamp(night['night_date']):%d/%m/%Y} : "
             "personnes décomptées (a minima)")
    assert overview[label] == f"{int(night['total']):,}".replace(",", "\u202f") + " personnes"


def test_report_annual_refuses_a_bad_output_before_reading_anything(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    code = main(["report", "annual", "--year", "2025", "--output",
                 str(tmp_path / "absent" / "r.xlsx")])
    assert code == 2
    err = capsys.readouterr().err
    assert "n'existe pas" in err and "Traceback" not in err
    assert main(["report", "annual", "--year", "2025", "--output",
                 str(tmp_path / "r.pdf")]) == 2


def test_the_aix_marseille_provence_report_renders_its_annexed_actions_and_targets():
    """The 2021-2022 convention of Aix-Marseille-Provence (annexes 1 and 2 transcribed):
    one row per action, its published targets, « non renseigné » without a value, and the
    report written as XLSX and HTML."""
    from observatoire.evaluation.report import report_bytes

    convention = load_convention("aix-marseille-provence", 2022)
    values = _values([("iml_places", 2022, 900), ("designations_contingent_ville", 2021, 31)])
    report = build_annual_report(convention, 2022, values, NIGHTS.iloc[0:0],
                                 None, DisclosureRules())
    actions = report.actions.set_index("N°")
    assert list(actions.index) == [a.number for a in convention.actions]
    assert actions.loc["9", "Objectif(s) 2022"] == "1\u202f100 places"
    assert actions.loc["9", "Valeur(s) 2022"] == "900 places"
    assert actions.loc["23", "Objectif(s) 2022"] == "20 logements"
    # A figure of 2021 is not the value of 2022.
    assert actions.loc["5", "Valeur(s) 2022"] == NOT_ENTERED
    assert report.deadline.isoformat() == "2023-03-31"
    assert report_bytes(report, ".xlsx")[:2] == b"PK"
    assert "Mobilisation contingent Ville" in report_bytes(report, ".html").decode("utf-8")
