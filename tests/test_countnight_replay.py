"""The sample count night replayed through tablet submissions, an ODK Central export and a
KoboToolbox export ends with identical stored observations; imports are idempotent and bad
exports are refused clearly."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from observatoire.countnight import replay
from observatoire.geo.sectors import generate_grid_sectors
from observatoire.geo.territories import load_reference_territory
from observatoire.pipeline import import_reference_territory
from observatoire.store.db import make_engine, upgrade_database
from observatoire.survey import load_questionnaire
from observatoire.survey.xlsform import ExportFormatError, kobo_json, odk_central_csv
from observatoire.synthetic import generate_sample

TERRITORY = "dijon-metropole"


@pytest.fixture(scope="module")
def sample():
    communes = load_reference_territory(TERRITORY)
    sectors = generate_grid_sectors(communes, 1000)
    return generate_sample(communes, sectors, seed=2026, n_people=900), sectors


def _replayed(url: str, sample, via: str):
    engine = make_engine(url)
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        import_reference_territory(session, TERRITORY)
    campaign_id, report = replay.replay_sample(engine, TERRITORY, sample[0], sample[1],
                                                   via=via)
    stored = replay.stored_observations(engine, campaign_id)
    with engine.connect() as c:
        reports = c.execute(text("SELECT s.code, r.people_met FROM sector_report r "
                                 "JOIN sector s ON s.id = r.sector_id ORDER BY s.code")).all()
    return engine, campaign_id, report, stored, reports


@pytest.mark.slow
def test_replays_through_tablet_odk_and_kobo_store_identical_observations(tmp_path, sample):
    results = {
        via: _replayed(f"sqlite:///{tmp_path / via}.sqlite", sample, via)
        for via in ("tablette", "odk", "kobo")
    }
    observations = sample[0].observations
    for via, (_engine, _cid, report, stored, reports) in results.items():
        assert report.rejected == [], (via, report.rejected[:3])
        assert report.created == len(observations)
        assert len(stored) == len(observations)
        assert set(stored["submission_uuid"]) == set(observations["submission_uuid"])
        expected = dict(zip(sample[0].sector_reports["sector_code"],
                            sample[0].sector_reports["people_met"], strict=True))
        assert dict(reports) == expected
        # Ground truth never reaches the stored answers.
        assert not stored["answers"].astype(str).str.contains("P0|second_sighting").any()
    base = results["tablette"][3]
    for via in ("odk", "kobo"):
        pd.testing.assert_frame_equal(base, results[via][3], check_like=True)


def test_importing_the_same_odk_and_kobo_exports_twice_adds_nothing(tmp_path, sample):
    engine, campaign_id, *_ = _replayed(f"sqlite:///{tmp_path / 'o'}.sqlite", sample,
                                        "tablette")
    # Reopening is refused once locked: imports into a locked campaign are refused per record.
    q = load_questionnaire("ndls-2026")
    submissions, _ = replay.sample_submissions(sample[0].observations)
    csv_bytes = odk_central_csv(q, submissions[:20], {})
    report = replay.import_export_file(engine, csv_bytes, kind="odk",
                                           questionnaire_version="ndls-2026")
    assert report.created == 0 and len(report.rejected) == 20
    assert "verrouillée" in report.rejected[0][1]


def test_odk_import_is_idempotent_on_an_open_campaign(tmp_path, sample):
    engine = make_engine(f"sqlite:///{tmp_path / 'o'}.sqlite")
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        import_reference_territory(session, TERRITORY)
    campaign_id, _ = replay.replay_sample(engine, TERRITORY, sample[0], sample[1],
                                              via="tablette", lock=False)
    with engine.begin() as c:
        c.execute(text("DELETE FROM observation_submission"))
        c.execute(text("DELETE FROM observation"))
    q = load_questionnaire("ndls-2026")
    submissions, _ = replay.sample_submissions(sample[0].observations)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ndls-2026.csv", odk_central_csv(q, submissions, {}))
    first = replay.import_export_file(engine, archive.getvalue(), kind="odk",
                                          questionnaire_version="ndls-2026")
    again = replay.import_export_file(engine, archive.getvalue(), kind="odk",
                                          questionnaire_version="ndls-2026")
    kobo = replay.import_export_file(engine, kobo_json(q, submissions, {}), kind="kobo",
                                         questionnaire_version="ndls-2026")
    assert first.created == len(submissions)
    assert again.created == 0 and again.already_stored == len(submissions)
    assert kobo.created == 0 and kobo.already_stored == len(submissions)
    assert len(replay.stored_observations(engine, campaign_id)) == len(submissions)


@pytest.mark.parametrize(
    ("kind", "data", "fragment"),
    [
        pytest.param("odk", b"PK\x03\x04garbage-not-a-zip", "archive ZIP illisible",
                     id="corrupt-zip"),
        pytest.param("odk", b"SubmissionDate,meta-instanceID,FormVersion\n"
                            b"2026-01-30,uuid:1,autre-formulaire\n",
                     "export d'un autre formulaire", id="odk-other-form"),
        pytest.param("odk", b"a,b\n1,2\n", "meta-instanceID", id="not-an-odk-export"),
        pytest.param("kobo", b'[{"_xform_id_string": "enquete-sante", "_uuid": "x"}]',
                     "export d'un autre formulaire", id="kobo-other-form"),
        pytest.param("kobo", b"{not json", "JSON illisible", id="kobo-bad-json"),
    ],
)
def test_bad_exports_are_refused_clearly(tmp_path, kind, data, fragment):
    engine = make_engine(f"sqlite:///{tmp_path / 'o'}.sqlite")
    with pytest.raises(ExportFormatError, match=fragment):
        replay.import_export_file(engine, data, kind=kind, questionnaire_version="ndls-2026")


def test_zip_of_another_form_is_refused(tmp_path):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("enquete-sante.csv", "KEY\n")
    engine = make_engine(f"sqlite:///{tmp_path / 'o'}.sqlite")
    with pytest.raises(ExportFormatError, match="autre formulaire"):
        replay.import_export_file(engine, archive.getvalue(), kind="odk",
                                      questionnaire_version="ndls-2026")
