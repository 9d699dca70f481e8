"""The groups and stays the conventions' annexes name (`observatoire.indicators.publics`),
through `feed import` with the shipped SI-SIAO and 115 formats (their optional columns)
and the staff figures, to the execution report's overall review."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from observatoire.feeds.formats import get_format
from observatoire.feeds.importer import import_feed
from observatoire.model import Commune, Territory, TerritoryKind
from observatoire.store import repository
from observatoire.store.db import upgrade_database

DIJON = "dijon-metropole"
KEY = bytes(range(32))
TODAY = dt.date(2026, 3, 1)

SIAO_HEADER = ("N° demande;Nom;Prénom;Date de naissance;Sexe;Composition familiale;Commune;"
               "Date de la demande;Orientation;Statut;Date d'orientation;Date de sortie;"
               "Sortie d'institution;Victime de violences")
INSTITUTIONS = ["Prison", "Hôpital", "Aide sociale à l'enfance", "Sortie de détention"]


def _siao_rows(faker) -> list[str]:
    rows = []
    # 12 women with children placed in a hotel, leaving an institution, victims of violence.
    for i in range(12):
        rows.append(f"D{i};{faker.last_name()};{faker.first_name_female()};"
                    f"0{1 + i % 9}/05/1990;Femme;Personne seule avec enfant(s);21231;"
                    f"0{1 + i % 9}/02/2025;Hôtel;Orientée;1{i % 9}/02/2025;;"
                    f"{INSTITUTIONS[i % 4]};Oui")
    # Two emergency-shelter stays that ended in 2025: 3 and 6 months.
    for i, end in ((12, "01/04/2025"), (13, "01/07/2025")):
        rows.append(f"D{i};{faker.last_name()};{faker.first_name_male()};01/01/1980;Homme;"
                    f"Personne seule;21231;02/12/2024;CHU;Orientée;01/01/2025;{end};Non;Non")
    # Four moves into social housing: 16 people asked in 2025 (the two stays above in 2024).
    for i in range(14, 18):
        rows.append(f"D{i};{faker.last_name()};{faker.first_name_male()};01/01/1985;Homme;"
                    f"Personne seule;21231;03/03/2025;Logement social;Orientée;20/03/2025;;;")
    return rows


def _dijon(engine):
    """Dijon Métropole (one commune) and its shipped conventions, on a new database."""
    from observatoire.evaluation.stored import seed_conventions

    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, Territory(
            slug=DIJON, name="Dijon Métropole", kind=TerritoryKind.EPCI, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=156_000,
                              cog_year=2024)]))
        seed_conventions(session, DIJON)
    return engine


@pytest.fixture
def imported(engine, tmp_path):
    """Dijon Métropole with a SI-SIAO extract and a 115 log imported with the shipped
    formats, and its eviction-prevention figures entered."""
    from faker import Faker

    from observatoire.evaluation.stored import enter_figure

    faker = Faker("fr_FR")
    faker.seed_instance(13)
    _dijon(engine)
    siao = tmp_path / "si_siao.csv"
    siao.write_text("\n".join([SIAO_HEADER, *_siao_rows(faker)]) + "\n", encoding="utf-8")
    report = import_feed(engine, siao, get_format("si_siao"), KEY, today=TODAY,
                         departements=frozenset({"21"}))
    assert report.errors == 0, report.to_text()
    calls = tmp_path / "appels_115.csv"
    calls.write_text(
        "N° appel;Date et heure;Prénom;Nom;Sexe;Composition;Commune;Motif;Réponse;"
        "Victime de violences\n"
        f"A1;05/06/2025 22:10;{faker.first_name_female()};{faker.last_name()};F;Famille;"
        "21231;Demande d'hébergement;Pas de place;Oui\n", encoding="utf-8")
    report = import_feed(engine, calls, get_format("appels_115"), KEY, today=TODAY,
                         departements=frozenset({"21"}))
    assert report.errors == 0, report.to_text()
    with Session(engine) as session, session.begin():
        enter_figure(session, DIJON, "eviction_payment_orders", 2025, 1154, actor="marie",
                     source="Exploc")
        enter_figure(session, DIJON, "eviction_households_met", 2025, 577, actor="marie",
                     source="CCAS")
    return engine


def test_the_annex_groups_come_from_the_imported_rows(imported):
    from observatoire.evaluation.service import _publics_values
    from observatoire.evaluation.stored import entered_values

    with Session(imported) as session:
        values = _publics_values(session, entered_values(session, DIJON))
    got = {(r.indicator_id, r.year): r.value for r in values.itertuples(index=False)}
    assert got[("people_in_hotels", 2025)] == 12
    assert got[("emergency_stay_months", 2025)] == pytest.approx(4.5, abs=0.1)
    assert got[("institution_leavers", 2025)] == 12
    assert got[("women_violence", 2025)] == 13  # 12 SI-SIAO requests and one 115 call
    assert got[("households_with_children", 2025)] == 13
    assert got[("exits_rate", 2025)] == pytest.approx(4 / 16)
    assert got[("eviction_met_share", 2025)] == pytest.approx(0.5)
    # Nothing is made up for a year without rows: 2024 had only requests, no stay ended.
    assert ("emergency_stay_months", 2024) not in got


def test_the_annex_groups_are_rows_of_the_execution_report(imported):
    from observatoire.evaluation.service import annual_report

    report = annual_report(imported, DIJON, 2025)
    overview = report.overview.set_index("Indicateur")["Valeur"]
    assert overview["Personnes hébergées à l'hôtel par le SIAO"] == "12 personnes"
    assert overview["Durée moyenne de séjour en hébergement d'urgence"] == "4,5 mois"
    assert overview["Personnes sortant d'institution (prison, hôpital, aide sociale à "
                    "l'enfance)"] == "12 personnes"
    assert overview["Femmes victimes de violences demandant un hébergement"] == "13 personnes"
    assert overview["Ménages avec enfants demandant un hébergement ou un logement"] == (
        "13 ménages")
    assert overview["Taux de sortie de la rue ou de l'hébergement vers le logement"] == "25 %"
    assert overview["Part des ménages au stade du commandement de payer rencontrés"] == "50 %"
    assert overview["Ménages au stade du commandement de payer"] == "1\u202f154 ménages"


def test_without_the_optional_columns_the_groups_have_no_value(engine, tmp_path):
    """An extract of the columns partners sent before: no exit date, no institution, no
    violence column: those indicators are absent (« non renseigné »), never 0."""
    from observatoire.indicators import publics
    from observatoire.store.indicators_repository import partner_rows

    upgrade_database(engine)
    path = tmp_path / "si_siao.csv"
    path.write_text("N° demande;Nom;Prénom;Sexe;Date de la demande;Orientation;Statut\n"
                    "D1;Martin;Léa;Femme;02/02/2025;CHU;Orientée\n", encoding="utf-8")
    import_feed(engine, path, get_format("si_siao"), KEY, today=TODAY)
    with Session(engine) as session:
        rows = partner_rows(session)
    assert list(rows.columns) == publics.PARTNER_COLUMNS
    for function in (publics.emergency_stay_months, publics.institution_leavers,
                     publics.women_victims_of_violence):
        assert function(rows).empty
    assert publics.eviction_met_share(pd.DataFrame(columns=["indicator_id", "year",
                                                            "value"])).empty


def test_first_time_homeless_reads_non_calculable_when_the_history_is_too_short():
    from observatoire.evaluation.convention import load_convention
    from observatoire.evaluation.report import NOT_COMPUTABLE, build_annual_report
    from observatoire.publish.disclosure import DisclosureRules

    values = pd.DataFrame({"indicator_id": ["first_time_homeless", "first_time_homeless"],
                           "year": [2024, 2025], "value": [float("nan"), 40.0],
                           "note": [NOT_COMPUTABLE, None]})
    convention = load_convention(DIJON, 2024)
    early = build_annual_report(convention, 2024, values, pd.DataFrame(), None,
                                DisclosureRules()).overview.set_index("Indicateur")
    later = build_annual_report(convention, 2025, values, pd.DataFrame(), None,
                                DisclosureRules()).overview.set_index("Indicateur")
    label = "Personnes sans domicile pour la première fois"
    assert early.loc[label, "Valeur"] == "non calculable"
    assert later.loc[label, "Valeur"] == "40 personnes"


def _prior_situation_extract(tmp_path, faker, street: int = 3):
    """Moves into housing: ``street`` from the street (labels of « rue »), 2 from shelter
    (CHU, hotel), 1 from a relative's home; one more person from the street whose
    orientation to housing is still waiting (no move)."""
    labels = ["Rue", "À la rue", "Sans abri"]
    before = [labels[i % 3] for i in range(street)] + ["CHU", "Hôtel social", "Chez un tiers"]
    lines = ["N° demande;Nom;Prénom;Sexe;Date de la demande;Orientation;Statut;"
             "Date d'orientation;Situation avant"]
    for i, where in enumerate(before):
        lines.append(f"P{i};{faker.last_name()};{faker.first_name_male()};Homme;"
                     f"03/03/2025;Logement social;Orientée;20/03/2025;{where}")
    lines.append(f"P9;{faker.last_name()};{faker.first_name_male()};Homme;04/04/2025;"
                 "Pension de famille;En attente;;Rue")
    path = tmp_path / "si_siao_situation.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_exits_from_the_street_and_from_shelter_through_feed_import(engine, tmp_path):
    from faker import Faker

    from observatoire.indicators import publics
    from observatoire.model import PriorSituation
    from observatoire.store.indicators_repository import partner_rows

    faker = Faker("fr_FR")
    faker.seed_instance(5)
    upgrade_database(engine)
    report = import_feed(engine, _prior_situation_extract(tmp_path, faker),
                         get_format("si_siao"), KEY, today=TODAY)
    assert report.errors == 0, report.to_text()
    with Session(engine) as session:
        rows = partner_rows(session)
    assert set(rows["prior_situation"]) == {"rue", "hebergement_urgence", "hotel", "autre"}
    assert set(rows["prior_situation"]) <= {s.value for s in PriorSituation}
    street = publics.exits_from_street(rows)
    shelter = publics.exits_from_shelter(rows)
    assert street.to_dict("records") == [{"year": 2025, "value": 3.0}]
    assert shelter.to_dict("records") == [{"year": 2025, "value": 2.0}]


def test_the_format_maps_prior_situations_to_the_vocabulary_only():
    from observatoire.model import PriorSituation

    spec = get_format("si_siao").fields["prior_situation"]
    assert set(spec.values.values()) == {s.value for s in PriorSituation}
    for situation in PriorSituation:  # each label of the vocabulary is read as its code
        assert spec.values[situation.label] == situation.value


def test_without_the_prior_situation_column_no_street_or_shelter_exit(imported):
    from observatoire.indicators import publics
    from observatoire.store.indicators_repository import partner_rows

    with Session(imported) as session:
        rows = partner_rows(session)
    assert rows["prior_situation"].isna().all()
    assert publics.exits_from_street(rows).empty
    assert publics.exits_from_shelter(rows).empty


def test_exits_from_the_street_are_a_row_of_the_execution_report(imported, tmp_path):
    from faker import Faker

    from observatoire.evaluation.service import annual_report

    faker = Faker("fr_FR")
    faker.seed_instance(6)
    report = import_feed(imported, _prior_situation_extract(tmp_path, faker, street=12),
                         get_format("si_siao"), KEY, today=TODAY,
                         departements=frozenset({"21"}))
    assert report.errors == 0, report.to_text()
    overview = annual_report(imported, DIJON, 2025).overview.set_index("Indicateur")["Valeur"]
    assert overview["Sorties de la rue vers le logement"] == "12 personnes"
    # Two people from shelter: under the threshold of the disclosure control.
    assert overview["Sorties de l'hébergement vers le logement"] == "secret"


def test_time_homeless_from_linked_requests_to_the_execution_report(engine, tmp_path):
    """Twelve people asked the SI-SIAO in January 2024 and again in June 2025: once the
    linkage has joined each one's two requests, each has been known 17 months in 2025."""
    from faker import Faker

    from observatoire.evaluation.service import annual_report
    from observatoire.pipeline import link_stored_records

    faker = Faker("fr_FR")
    faker.seed_instance(7)
    lines = ["N° demande;N° usager SI-SIAO;Nom;Prénom;Date de naissance;Sexe;Commune;"
             "Date de la demande"]
    for i in range(12):
        person = (f"U{i:04d};{faker.unique.last_name()};{faker.first_name_male()};"
                  f"{1 + i:02d}/03/19{60 + i};Homme;21231")
        lines.append(f"T{i}a;{person};15/01/2024")
        lines.append(f"T{i}b;{person};15/06/2025")
    path = tmp_path / "si_siao_known.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_feed(_dijon(engine), path, get_format("si_siao"), KEY, today=TODAY,
                         departements=frozenset({"21"}))
    assert report.errors == 0, report.to_text()
    link_stored_records(engine, key=KEY)
    overview = annual_report(engine, DIJON, 2025).overview.set_index("Indicateur")["Valeur"]
    assert overview["Durée sans domicile connue des partenaires (médiane)"] == "17 mois"


def test_without_rights_pools_the_nights_of_a_year_and_leaves_unknowns_out():
    from observatoire.indicators.publics import without_rights

    interviews = pd.DataFrame({
        "night_date": ["2025-01-30", "2025-01-30", "2025-06-12", "2025-06-12", "2024-01-25"],
        "resources": [["aucune"], "rsa aah", None, ["aucune"], ["travail"]],
        "health_cover": ["aucune", "ne_sait_pas", "css", None, "aucune"],
    })
    resources = without_rights(interviews, "resources").set_index("year")
    assert resources.loc[2025, ["numerator", "denominator"]].tolist() == [2, 3]
    assert resources.loc[2024, "value"] == 0.0
    health = without_rights(interviews, "health_cover").set_index("year")
    assert health.loc[2025, ["numerator", "denominator"]].tolist() == [1, 2]
    assert without_rights(interviews.drop(columns="health_cover"), "health_cover").empty
