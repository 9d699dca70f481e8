"""The evaluation's data that staff keep: the territory's own indicators, conventions as
stored versions with their spreadsheet exchange, figures that come from no feed, the
monitoring body's access and the data-sharing register."""

from __future__ import annotations

import pytest

from observatoire.indicators.catalogue import (
    COMPUTATIONS,
    DASHBOARD,
    HAND_ENTERED,
    load_catalogue,
)
from observatoire.model import ObservatoireError

OWN_INDICATOR = """\
- id: halte_soins_places
  label: Places de lits halte soins santé
  unit: places
  frequency: quarterly
  owner: ARS
  publishable: true
- id: duree_sejour_urgence
  label: Durée moyenne de séjour en hébergement d'urgence
  unit: mois
  good: down
"""


@pytest.fixture
def own_catalogue(tmp_path, monkeypatch):
    folder = tmp_path / "indicateurs"
    folder.mkdir()
    (folder / "territoire.yaml").write_text(OWN_INDICATOR, encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_INDICATORS_DIR", str(folder))
    return folder


def test_every_computation_of_the_catalogue_is_one_pure_function():
    from observatoire.indicators.yearly import YEARLY

    assert set(YEARLY) == set(COMPUTATIONS) - {HAND_ENTERED, DASHBOARD}
    used = {i.computation for i in load_catalogue().values()}
    assert set(YEARLY) <= used


def test_a_territory_yaml_adds_indicators_without_touching_the_package(own_catalogue):
    catalogue = load_catalogue()
    own = catalogue["halte_soins_places"]
    assert (own.unit, own.frequency, own.owner, own.publishable) == ("places", "quarterly",
                                                                     "ARS", True)
    assert own.hand_entered and own.group == "territoire"
    assert catalogue["duree_sejour_urgence"].unit == "mois"
    assert catalogue.own == {"halte_soins_places", "duree_sejour_urgence"}
    assert "a_minima_total" in catalogue and "a_minima_total" not in catalogue.own


@pytest.mark.parametrize(
    ("text", "message"),
    [("- {id: a_minima_total, label: x, unit: personnes}", "défini deux fois"),
     ("- {id: x, label: x, unit: kg}", "unit = 'kg'"),
     ("- {id: x, label: x}", "champs manquants \\['unit'\\]"),
     ("- {id: x, label: x, unit: mois, computation: count_night_total}", "computation"),
     ("- {id: x, label: [x", "ligne 1")],
    ids=["redefines-shipped", "unknown-unit", "no-unit", "own-computation", "bad-yaml"],
)
def test_a_bad_territory_entry_is_refused_naming_file_and_fix(own_catalogue, text, message):
    (own_catalogue / "z.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ObservatoireError, match=message) as error:
        load_catalogue()
    assert "z.yaml" in str(error.value)


# --- stored conventions and their spreadsheet ------------------------------------------------

from sqlalchemy.orm import Session  # noqa: E402

from observatoire.evaluation.sheets import SheetImportError  # noqa: E402
from observatoire.model import Commune, Territory, TerritoryKind  # noqa: E402
from observatoire.store import repository  # noqa: E402
from observatoire.store.db import upgrade_database  # noqa: E402

DIJON = "dijon-metropole"


@pytest.fixture
def dijon(engine):
    """A migrated database holding a small Dijon Métropole and its shipped convention."""
    from observatoire.evaluation.stored import seed_conventions

    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, Territory(
            slug=DIJON, name="Dijon Métropole", kind=TerritoryKind.EPCI, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=156_000, cog_year=2024),
                      Commune(code="21166", name="Chenôve", population=14_000,
                              cog_year=2024)]))
        assert seed_conventions(session, DIJON, actor="sample") == 1
        assert seed_conventions(session, DIJON, actor="sample") == 0  # once only
    return engine


def _book(path):
    from openpyxl import load_workbook

    return load_workbook(path)


def test_the_convention_goes_out_as_a_spreadsheet_and_comes_back_the_same(dijon, tmp_path):
    from observatoire.evaluation.convention import load_convention
    from observatoire.evaluation.stored import (
        current_convention,
        export_convention,
        import_convention,
    )

    path = tmp_path / "convention.xlsx"
    with Session(dijon) as session:
        export_convention(session, DIJON, path, 2025)
    book = _book(path)
    assert book.sheetnames == ["Convention", "Actions", "Indicateurs"]
    header = [c.value for c in book["Actions"][1]]
    assert {"Budget demandé 2023", "Cofinancement 2025", "Pilote"} <= set(header)
    with Session(dijon) as session, session.begin():
        convention, version = import_convention(session, DIJON, path, actor="marie")
        assert version is None  # the same convention: no new version
        assert current_convention(session, DIJON, 2025) == load_convention(DIJON, 2025)


def test_a_revised_target_is_a_new_version_and_the_old_one_stays(dijon, tmp_path):
    from observatoire.evaluation.stored import (
        current_convention,
        export_convention,
        import_convention,
        target_history,
    )
    from observatoire.store.evaluation_repository import convention_versions

    path = tmp_path / "convention.xlsx"
    with Session(dijon) as session:
        export_convention(session, DIJON, path, 2025)
    book = _book(path)
    sheet = book["Indicateurs"]
    columns = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[columns.index("Identifiant")].value == "diagnostics_avant_cql":
            row[columns.index("Objectif 2025")].value = 55
    actions = book["Actions"]
    actions.cell(row=2, column=[c.value for c in actions[1]].index("Cofinancement 2024") + 1,
                 value=12_000)
    book.save(path)
    with Session(dijon) as session, session.begin():
        _, version = import_convention(session, DIJON, path, actor="marie",
                                       note="avenant 2025")
    assert version == 2
    with Session(dijon) as session:
        convention = current_convention(session, DIJON, 2025)
        action = next(a for a in convention.actions if a.number == "6")
        indicator = action.indicators[0]
        assert convention.target(indicator, 2025) == (55, 2025)
        assert convention.target(indicator, 2024) == (40, 2024)  # each year's stays
        assert convention.actions[0].cofinancing == {2024: 12_000}
        versions = convention_versions(session, DIJON, "2023-2025")
        history = target_history(session, DIJON, "2023-2025")
    assert [(v.version, v.saved_by) for v in versions] == [(1, "sample"), (2, "marie")]
    first = {a["number"]: a for a in versions[0].document["actions"]}
    assert first["6"]["indicators"][0]["targets"] == {"each_year": 40}
    changed = history[history["version"] == 2]
    assert changed[["action", "indicator", "year", "target", "saved_by"]].values.tolist() == [
        ["6", "diagnostics_avant_cql", "2025", 55.0, "marie"]]


def test_a_bad_convention_spreadsheet_is_refused_row_by_row_and_nothing_is_stored(
        dijon, tmp_path):
    from observatoire.evaluation.stored import export_convention, import_convention
    from observatoire.store.evaluation_repository import convention_versions

    path = tmp_path / "convention.xlsx"
    with Session(dijon) as session:
        export_convention(session, DIJON, path, 2025)
    book = _book(path)
    actions, indicators = book["Actions"], book["Indicateurs"]
    a_cols = [c.value for c in actions[1]]
    actions.cell(row=3, column=a_cols.index("Priorité du plan (1-5)") + 1, value=9)
    actions.cell(row=4, column=a_cols.index("Budget demandé 2023") + 1, value="beaucoup")
    i_cols = [c.value for c in indicators[1]]
    indicators.cell(row=2, column=i_cols.index("N° action") + 1, value="99")
    indicators.cell(row=3, column=i_cols.index("Libellé") + 1, value="=HYPERLINK(\"x\")")
    book.save(path)
    with Session(dijon) as session, session.begin(), pytest.raises(SheetImportError) as error:
        import_convention(session, DIJON, path, actor="marie")
    found = {(p.sheet, p.row, p.column) for p in error.value.problems}
    assert {("Actions", 3, "Priorité du plan (1-5)"), ("Actions", 4, "Budget demandé 2023"),
            ("Indicateurs", 2, "N° action"), ("Indicateurs", 3, "Libellé")} <= found
    text = str(error.value)
    assert "convention.xlsx, feuille « Actions », ligne 3" in text and "→" in text
    with Session(dijon) as session:
        assert len(convention_versions(session, DIJON)) == 1


def test_a_csv_of_indicators_replaces_that_table_of_the_stored_convention(dijon, tmp_path):
    from observatoire.evaluation.exchange import indicators_frame
    from observatoire.evaluation.stored import current_convention, import_convention

    with Session(dijon) as session:
        frame = indicators_frame(current_convention(session, DIJON, 2025))
    frame = frame[frame["N° action"] != "13"]  # the workshops lose their indicator
    path = tmp_path / "indicateurs.csv"
    frame.to_csv(path, sep=";", index=False, encoding="utf-8")
    with Session(dijon) as session, session.begin():
        convention, version = import_convention(session, DIJON, path, actor="marie",
                                                year=2025)
    assert version == 2
    assert next(a for a in convention.actions if a.number == "13").indicators == []
    assert len(convention.actions) == 17


# --- figures that come from no feed ---------------------------------------------------------


def test_figures_keep_their_history_and_make_the_year_from_quarters_and_communes(dijon):
    from observatoire.evaluation.stored import enter_figure, entered_values
    from observatoire.store.evaluation_repository import current_figures, figure_history

    with Session(dijon) as session, session.begin():
        # A convention's own indicator (not in the catalogue), per quarter: a count, summed.
        for quarter, value in ((1, 10), (2, 12), (3, 9), (4, 11)):
            enter_figure(session, DIJON, "diagnostics_avant_cql", 2025, value, actor="marie",
                         quarter=quarter, source="CCAPEX")
        enter_figure(session, DIJON, "diagnostics_avant_cql", 2025, 8, actor="paul",
                     quarter=4, comment="correction : doublons retirés")
        # Places: the last quarter stands for the year.
        enter_figure(session, DIJON, "iml_places", 2025, 90, actor="marie", quarter=2)
        enter_figure(session, DIJON, "iml_places", 2025, 110, actor="marie", quarter=4)
        # Per commune, summed when no figure for the whole territory.
        enter_figure(session, DIJON, "eviction_prevention", 2025, 30, actor="marie",
                     commune_code="21231")
        enter_figure(session, DIJON, "eviction_prevention", 2025, 5, actor="marie",
                     commune_code="21166")
        with pytest.raises(ObservatoireError, match="n'est pas du territoire"):
            enter_figure(session, DIJON, "iml_places", 2025, 1, actor="x",
                         commune_code="75056")
        with pytest.raises(ObservatoireError, match="Indicateur inconnu"):
            enter_figure(session, DIJON, "bogus", 2025, 1, actor="x")
    with Session(dijon) as session:
        values = entered_values(session, DIJON).set_index("indicator_id")["value"]
        history = figure_history(session, DIJON, "diagnostics_avant_cql")
        current = current_figures(session, DIJON)
    assert values.to_dict() == {"diagnostics_avant_cql": 10 + 12 + 9 + 8,
                                "eviction_prevention": 35, "iml_places": 110}
    assert len(history) == 5 and history["entered_by"].iloc[-1] == "paul"
    assert history["value"].iloc[3] == 11  # the corrected entry stays in the history
    assert len(current) == 8


def test_a_spreadsheet_of_figures_imports_with_a_row_level_report(dijon, tmp_path):
    from observatoire.evaluation.stored import entered_values, import_figures
    from observatoire.store.evaluation_repository import figure_history

    bad = tmp_path / "chiffres.csv"
    bad.write_text(
        "Indicateur;Année;Trimestre;Commune;Valeur;Source;Commentaire\n"
        "iml_places;2025;;;1100;DDETS;\n"
        "places_fantomes;2025;;;3;;\n"
        "iml_places;25;T5;75056;beaucoup;;\n"
        "pension_famille_places;2025;;;=1+1;;\n", encoding="utf-8")
    with Session(dijon) as session, session.begin(), pytest.raises(SheetImportError) as error:
        import_figures(session, DIJON, bad, actor="marie")
    found = {(p.row, p.column) for p in error.value.problems}
    assert found == {(3, "Indicateur"), (4, "Année"), (4, "Trimestre"), (4, "Commune"),
                     (4, "Valeur"), (5, "Valeur")}
    with Session(dijon) as session:
        assert figure_history(session, DIJON).empty  # nothing stored
    good = tmp_path / "chiffres-bons.csv"
    good.write_text("Indicateur;Année;Trimestre;Commune;Valeur;Source;Commentaire\n"
                    "iml_places;2025;;;1 100;DDETS;au 31/12\n"
                    "taux_non_reponse_assignation;2025;;;40 %;CCAPEX;\n", encoding="utf-8")
    with Session(dijon) as session, session.begin():
        assert import_figures(session, DIJON, good, actor="marie") == 2
    with Session(dijon) as session:
        values = entered_values(session, DIJON).set_index("indicator_id")["value"]
    assert values.to_dict() == {"iml_places": 1100, "taux_non_reponse_assignation": 0.4}


def test_figures_and_the_stored_convention_reach_the_report(dijon, own_catalogue, tmp_path):
    from observatoire.evaluation.report import build_annual_report
    from observatoire.evaluation.stored import current_convention, enter_figure, entered_values
    from observatoire.publish.disclosure import DisclosureRules

    with Session(dijon) as session, session.begin():
        enter_figure(session, DIJON, "diagnostics_avant_cql", 2025, 44, actor="marie")
        enter_figure(session, DIJON, "halte_soins_places", 2025, 25, actor="marie",
                     quarter=4, source="ARS")
        enter_figure(session, DIJON, "duree_sejour_urgence", 2025, 7, actor="marie")
    with Session(dijon) as session:
        convention = current_convention(session, DIJON, 2025)
        values = entered_values(session, DIJON)
    import pandas as pd

    report = build_annual_report(convention, 2025, values, pd.DataFrame(), None,
                                 DisclosureRules())
    actions = report.actions.set_index("N°")
    assert actions.loc["6", "Valeur(s) 2025"] == "44 ménages"
    assert actions.loc["6", "Écart à l'objectif"] == "+4 (atteint)"
    overview = report.overview.set_index("Indicateur")["Valeur"]
    # The territory's own publishable indicator is in the report; the other is not.
    assert overview["Places de lits halte soins santé"] == "25 places"
    assert "Durée moyenne de séjour en hébergement d'urgence" not in overview


def test_migration_0017_creates_the_tables_the_models_describe(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from observatoire.store.schema import metadata

    upgrade_database(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    mine = {"convention_version", "indicator_figure", "sharing_agreement"}
    ours = [d for d in diff if mine & set(str(d).replace("'", " ").split())]
    assert ours == [], f"tables de l'évaluation et migration 0017 en désaccord : {ours}"


def test_migration_0018_moves_the_old_targets_into_the_convention_and_back(engine):
    """The targets of the old indicators page (table ``indicator_target``) become targets
    of the convention covering their year: the shipped one (stored first as version 1), a
    spare action when no action has the indicator, a document of their own for a year no
    convention covers; the downgrade puts them back."""
    import datetime as dt

    import pandas as pd
    from alembic import command
    from sqlalchemy import inspect, text

    from observatoire.evaluation.report import build_annual_report
    from observatoire.evaluation.stored import convention_targets, current_convention
    from observatoire.publish.disclosure import DisclosureRules
    from observatoire.store import evaluation_repository as store
    from observatoire.store.db import _alembic_config

    upgrade_database(engine, "0017")
    with Session(engine) as session, session.begin():
        repository.save_territory(session, Territory(
            slug=DIJON, name="Dijon Métropole", kind=TerritoryKind.EPCI, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=156_000,
                              cog_year=2024)]))
        territory_id = repository.get_territory(session, DIJON).id
        now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        for indicator, year, target in [("a_minima_total", 2025, 250.0),
                                        ("exits_to_housing", 2024, 90.0),
                                        ("iml_places", 2025, 60.0),
                                        ("a_minima_total", 2026, 240.0)]:
            session.execute(text(
                "INSERT INTO indicator_target (territory_id, indicator_id, year, target, "
                "convention, updated_at, updated_by) VALUES (:t, :i, :y, :v, 'AMI 2', :at, "
                "'marie')"), {"t": territory_id, "i": indicator, "y": year, "v": target,
                              "at": now})
    upgrade_database(engine)
    assert "indicator_target" not in inspect(engine).get_table_names()
    with Session(engine) as session:
        versions = store.convention_versions(session, DIJON)
        convention = current_convention(session, DIJON, 2025)
        targets = convention_targets(session, DIJON).set_index(["indicator_id", "year"])
    assert [(v.period, v.version, v.saved_by) for v in versions] == [
        ("2023-2025", 1, "observatoire"), ("2023-2025", 2, "marie"),
        ("2026-2026", 1, "marie")]
    assert targets.loc[("a_minima_total", 2025), "target"] == 250
    assert targets.loc[("exits_to_housing", 2024), "target"] == 90
    assert targets.loc[("iml_places", 2025), "target"] == 60
    assert targets.loc[("a_minima_total", 2026), "target"] == 240
    # The annex's own actions got the targets of their indicators; iml_places has none.
    by_action = {(a.number, i.id): i.targets for a in convention.actions for i in a.indicators}
    assert by_action[("15", "a_minima_total")]["2025"] == 250
    assert by_action[("objectifs-repris", "iml_places")] == {"2025": 60.0}
    # The execution report reads them: the count night's target has its night's value.
    values = pd.DataFrame({"indicator_id": ["a_minima_total"], "year": [2025],
                           "value": [414.0]})
    report = build_annual_report(convention, 2025, values, pd.DataFrame(), None,
                                 DisclosureRules())
    rows = report.indicators[report.indicators["N°"] == "15"].iloc[0]
    assert (rows["Objectif 2025"], rows["Valeur 2025"]) == ("250 personnes", "414 personnes")

    command.downgrade(_alembic_config(engine), "0018@-1")
    with engine.connect() as connection:
        back = connection.execute(text(
            "SELECT indicator_id, year, target FROM indicator_target ORDER BY indicator_id, "
            "year")).all()
    assert ("a_minima_total", 2025, 250.0) in back and ("iml_places", 2025, 60.0) in back
    assert ("a_minima_total", 2026, 240.0) in back


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_dijon(tmp_path, monkeypatch):
    """A data directory whose database holds Dijon Métropole and its convention."""
    from observatoire.config import load_settings
    from observatoire.evaluation.stored import seed_conventions
    from observatoire.pipeline import open_database

    data = tmp_path / "donnees"
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    engine = open_database(load_settings())
    with Session(engine) as session, session.begin():
        repository.save_territory(session, Territory(
            slug=DIJON, name="Dijon Métropole", kind=TerritoryKind.EPCI, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=156_000,
                              cog_year=2024)]))
        seed_conventions(session, DIJON)
    engine.dispose()
    return tmp_path


def test_convention_figures_and_partner_commands(cli_dijon, capsys):
    from openpyxl import load_workbook

    from observatoire.cli import main

    book = cli_dijon / "convention.xlsx"
    assert main(["convention", "export", "--territory", DIJON, "--year", "2025",
                 "--output", str(book)]) == 0
    workbook = load_workbook(book)
    sheet = workbook["Actions"]
    sheet.cell(row=3, column=[c.value for c in sheet[1]].index("Titre") + 1).value = None
    workbook.save(book)
    assert main(["convention", "import", str(book), "--territory", DIJON]) == 2
    err = capsys.readouterr().err
    assert "feuille « Actions », ligne 3, colonne « Titre » : titre vide" in err
    assert "Traceback" not in err
    workbook["Actions"].cell(row=3, column=2, value="Poste de cheffe de service")
    workbook.save(book)
    assert main(["convention", "import", str(book), "--territory", DIJON, "--note",
                 "titre raccourci", "--actor", "marie"]) == 0
    assert "version 2" in capsys.readouterr().err
    assert main(["convention", "history", "--territory", DIJON]) == 0
    out = capsys.readouterr().out
    assert "v2" in out and "marie" in out and "titre raccourci" in out

    figures = cli_dijon / "chiffres.csv"
    figures.write_text("Indicateur;Année;Trimestre;Commune;Valeur;Source;Commentaire\n"
                       "iml_places;2025;T4;;1100;DDETS;\n", encoding="utf-8")
    assert main(["figures", "import", str(figures), "--territory", DIJON]) == 0
    assert main(["figures", "add", "--territory", DIJON, "--indicator", "iml_places",
                 "--year", "2025", "--quarter", "4", "--value", "1080", "--comment",
                 "recompte DDETS", "--actor", "paul"]) == 0
    assert main(["figures", "history", "--territory", DIJON]) == 0
    out = capsys.readouterr().out
    assert "1100" in out and "1080" in out and "recompte DDETS" in out

    assert main(["partner", "add", "siao21", "--organisation", "SIAO de Côte-d'Or",
                 "--legal-basis", "art. 6.1.e RGPD (mission d'intérêt public)",
                 "--scope", "demandes et orientations SI-SIAO, pseudonymisées",
                 "--retention-months", "24", "--format", "si_siao"]) == 0
    assert main(["partner", "list"]) == 0
    out = capsys.readouterr().out
    assert "SIAO de Côte-d'Or" in out and "24 mois" in out and "imports : 0" in out
    assert main(["partner", "add", "x", "--organisation", "X", "--legal-basis", "b",
                 "--scope", "s", "--retention-months", "0"]) == 2


def test_a_target_from_the_command_line_is_a_new_version_of_the_convention(cli_dijon, capsys):
    from observatoire.cli import main
    from observatoire.config import load_settings
    from observatoire.evaluation.stored import convention_targets, target_history
    from observatoire.pipeline import open_database

    assert main(["indicators", "target", "exits_to_housing", "2025", "150", "--territory",
                 DIJON, "--actor", "marie"]) == 0
    assert "version 2" in capsys.readouterr().out
    # An indicator no action has, a year no convention covers: refused, saying what to do.
    assert main(["indicators", "target", "iml_places", "2025", "10", "--territory",
                 DIJON]) == 2
    assert main(["indicators", "target", "exits_to_housing", "2031", "10", "--territory",
                 DIJON]) == 2
    err = capsys.readouterr().err
    assert "ajoutez-le à une action" in err and "ne couvre 2031" in err
    assert "Traceback" not in err
    with Session(open_database(load_settings())) as session:
        targets = convention_targets(session, DIJON).set_index(["indicator_id", "year"])
        history = target_history(session, DIJON, "2023-2025")
    assert targets.loc[("exits_to_housing", 2025), "target"] == 150
    assert history.iloc[-1][["indicator", "year", "target", "saved_by"]].tolist() == [
        "exits_to_housing", "2025", 150.0, "marie"]


def test_an_import_from_a_partner_outside_the_register_is_flagged(dijon, capsys):
    from observatoire.cli_evaluation import warn_without_agreement
    from observatoire.store.evaluation_repository import (
        agreements,
        partners_without_agreement,
        save_agreement,
    )

    warn_without_agreement(dijon, "samu21")
    assert "aucune convention d'échange" in capsys.readouterr().err
    with Session(dijon) as session, session.begin():
        save_agreement(session, actor="marie", partner="samu21", organisation="Samu social",
                       legal_basis="art. 6.1.e RGPD", scope="maraudes", retention_months=24)
        save_agreement(session, actor="marie", partner="samu21", organisation="Samu social 21",
                       legal_basis="art. 6.1.e RGPD", scope="maraudes", retention_months=12)
    warn_without_agreement(dijon, "samu21")
    assert capsys.readouterr().err == ""
    with Session(dijon) as session:
        register = agreements(session)
        assert partners_without_agreement(session) == []
    assert register[["partner", "organisation", "retention_months", "imports"]].values.tolist(
        ) == [["samu21", "Samu social 21", 12, 0]]


# --- squats and bidonvilles, their own kinds of tallied places ---------------------------------


def test_squat_and_bidonville_tallies_import_as_their_own_kinds(dijon, tmp_path):
    import datetime as dt

    from sqlalchemy import select

    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.indicators import a_minima
    from observatoire.store.feeds_tables import PlaceTallyRow

    path = tmp_path / "decomptes.csv"
    path.write_text("Date de la nuit;Partenaire;Type de lieu;Commune;Nombre de personnes\n"
                    "30/01/2025;DDETS;Squat;21231;14\n"
                    "30/01/2025;DDETS;Bidonville;21231;23\n"
                    "30/01/2025;SNCF;Gare;21231;6\n", encoding="utf-8")
    report = import_feed(dijon, path, get_format("decomptes_lieux"), bytes(range(32)),
                         today=dt.date(2025, 3, 1), actor="marie", partner="ddets21")
    assert report.errors == 0, report.to_text()
    with Session(dijon) as session:
        stored = dict(session.execute(select(PlaceTallyRow.place_kind,
                                             PlaceTallyRow.people_count)).all())
    assert stored == {"squat": 14, "bidonville": 23, "gare": 6}
    import pandas as pd

    count = a_minima(0, pd.DataFrame({"place_kind": list(stored), "people": list(
        stored.values())}))
    assert count.total == 43
    breakdown = count.breakdown().set_index("libelle")["personnes"].to_dict()
    assert breakdown.get("Squats") == 14 and breakdown.get("Bidonvilles") == 23


# --- system performance from linked records ------------------------------------------------------


def _contacts(rows):
    import pandas as pd

    return pd.DataFrame(rows, columns=["person_id", "date"])


def test_first_time_homeless_needs_24_months_without_a_contact():
    from observatoire.indicators.performance import first_time_homeless

    contacts = _contacts([
        (1, "2022-01-10"), (1, "2025-03-01"),   # back after 3 years: first time again in 2025
        (2, "2024-06-01"), (2, "2025-02-01"),   # seen 8 months before: not a first time
        (3, "2025-05-05"), (3, "2025-07-01"),   # new in 2025, counted once
        (4, "2023-12-31"),
    ])
    frame = first_time_homeless(contacts).set_index("year")
    assert frame.loc[2025, "value"] == 2  # persons 1 and 3
    assert frame.loc[2025, "complete"]  # the records start in 2022-01, before 2023-01
    assert not frame.loc[2022, "complete"]


def test_first_timers_count_as_the_people_the_linkage_expects():
    import pandas as pd

    from observatoire.indicators.performance import first_time_homeless

    # One woman split by the linkage into three persons (each expected a third of a
    # person), and a man who is one person: two first-timers in 2025, not four.
    contacts = pd.DataFrame({
        "person_id": [1, 2, 3, 4, 4],
        "date": ["2025-01-05", "2025-02-01", "2025-03-01", "2025-04-01", "2025-06-01"],
        "expected_people": [1 / 3, 1 / 3, 1 / 3, 1.0, 1.0],
    })
    frame = first_time_homeless(contacts).set_index("year")
    assert frame.loc[2025, "value"] == 2
    assert first_time_homeless(contacts.drop(columns="expected_people")).set_index(
        "year").loc[2025, "value"] == 4  # persons found, without the linkage's expectation


def test_returns_after_a_move_to_housing_within_each_window():
    import pandas as pd

    from observatoire.indicators.performance import MIN_BASE, returns_to_homelessness

    moves = pd.DataFrame({"person_id": range(MIN_BASE + 1),
                          "date": pd.Timestamp("2024-01-15")})
    contacts = _contacts(
        [(p, "2024-01-20") for p in range(MIN_BASE + 1)]     # follow-up: no return
        + [(0, "2024-05-01"), (1, "2024-12-01"), (2, "2025-09-01")]
        + [(99, "2025-12-01")])  # the records stop in Dec. 2025: 24 months have not passed
    six = returns_to_homelessness(contacts, moves, 6).set_index("year").loc[2024]
    twelve = returns_to_homelessness(contacts, moves, 12).set_index("year").loc[2024]
    late = returns_to_homelessness(contacts, moves, 24).set_index("year").loc[2024]
    assert (six["exits"], six["returned"]) == (MIN_BASE + 1, 1)
    assert twelve["returned"] == 2 and twelve["value"] == pytest.approx(2 / (MIN_BASE + 1))
    assert late["returned"] == 3 and late["value"] is None
    few = returns_to_homelessness(contacts, moves.head(MIN_BASE - 1), 6).iloc[0]
    assert few["value"] is None  # too few moves to give a share


def test_report_comments_are_kept_in_a_version_and_survive_a_spreadsheet_import(dijon,
                                                                               tmp_path):
    import pandas as pd

    from observatoire.evaluation.report import build_annual_report
    from observatoire.evaluation.stored import (
        current_convention,
        export_convention,
        import_convention,
        save_report_comments,
    )
    from observatoire.publish.disclosure import DisclosureRules

    with Session(dijon) as session, session.begin():
        assert save_report_comments(session, DIJON, 2025, {"6": "Recrutement en mars.",
                                                           "8": "  "}, actor="marie") == 2
        with pytest.raises(ObservatoireError, match="Actions inconnues"):
            save_report_comments(session, DIJON, 2025, {"99": "x"}, actor="marie")
    path = tmp_path / "convention.xlsx"
    with Session(dijon) as session:
        export_convention(session, DIJON, path, 2025)
    with Session(dijon) as session, session.begin():
        _, version = import_convention(session, DIJON, path, actor="paul")
        assert version is None  # the spreadsheet carries no comment and changes nothing
        convention = current_convention(session, DIJON, 2025)
    assert convention.comments == {"2025": {"6": "Recrutement en mars."}}
    report = build_annual_report(convention, 2025, pd.DataFrame(columns=[
        "indicator_id", "year", "value"]), pd.DataFrame(), None, DisclosureRules(),
        comments=convention.comments["2025"])
    comments = report.actions.set_index("N°")["Commentaire"]
    assert comments["6"] == "Recrutement en mars." and comments["8"] == ""


def test_time_homeless_is_the_median_from_the_first_contact_and_needs_11_people():
    from observatoire.indicators.performance import MIN_BASE, time_homeless_months

    rows = []
    for i in range(MIN_BASE):  # known since January 2024, seen again in 2025 after i months
        rows += [(f"p{i}", "2024-01-01"), (f"p{i}", f"2025-{1 + i:02d}-01")]
    frame = time_homeless_months(_contacts(rows)).set_index("year")["value"]
    # 2025: 12 + i months for i = 0..10, median 17; 2024: everybody at 0 months.
    assert frame[2025] == pytest.approx(17.0, abs=0.1)
    assert frame[2024] == 0.0
    fewer = time_homeless_months(_contacts(rows[2:]))  # 10 people in each year
    assert fewer.empty
