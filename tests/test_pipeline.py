"""The sample build on a user's own territory, end to end through the command line."""

import pytest
from sqlalchemy.orm import Session

from observatoire.cli import main
from observatoire.config import load_settings
from observatoire.geo.territories import load_reference_territory
from observatoire.pipeline import open_database
from observatoire.store import repository


@pytest.fixture
def own_territory_file(tmp_path):
    """Six Paris arrondissements in Lambert-93, with the column names of IGN files."""
    communes = load_reference_territory("paris").head(6)
    communes = communes.rename(columns={"code": "INSEE_COM", "nom": "NOM_COM",
                                        "population": "POPULATION"})
    path = tmp_path / "communes.gpkg"
    communes.drop(columns="commune_parent").to_crs("EPSG:2154").to_file(path)
    return path


def test_a_sample_night_runs_on_an_imported_territory(own_territory_file, tmp_path, monkeypatch,
                                                      capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "donnees"))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    assert main(["territory", "import", str(own_territory_file), "--slug", "centre-paris",
                 "--name", "Centre de Paris", "--cog-year", "2025"]) == 0
    assert main(["sample", "build", "--territory", "centre-paris", "--seed", "3",
                 "--no-history"]) == 0
    settings = load_settings()
    with Session(open_database(settings)) as session:
        communes = repository.territory_communes(session, "centre-paris")
        campaign = repository.list_campaigns(session, "centre-paris")[0]
        counts = repository.observation_counts_by_commune(session, campaign.id)
    assert communes["code"].tolist() == [f"7510{i}" for i in range(1, 7)]
    assert set(counts["code"]) <= set(communes["code"])
    assert counts["personnes"].sum() > 0
    # Running it again changes nothing and says so.
    assert main(["sample", "build", "--territory", "centre-paris", "--seed", "3"]) == 0
    assert "déjà présent" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sample", "build", "--territory", "lyon"], "Territoire inconnu : 'lyon'"),
        (["territory", "import", "x.gpkg", "--slug", "Grand Nancy", "--name", "N"],
         "Identifiant de territoire invalide"),
        (["territory", "import", "--slug", "nancy"], "Indiquez un fichier"),
    ],
    ids=["unknown-territory", "bad-slug", "no-file"],
)
def test_bad_requests_are_refused_with_a_message(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_an_interrupted_sample_build_is_replaced(tmp_path):
    from sqlalchemy import func, select, update

    from observatoire.pipeline import SAMPLE_CAMPAIGN_NAME, build_sample_database
    from observatoire.store.tables import CampaignRow, ObservationRow

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    first = build_sample_database(settings, seed=5, history=False)
    engine = open_database(settings)
    # What a build killed before its last step leaves: the night not yet locked.
    with engine.begin() as connection:
        connection.execute(update(CampaignRow).values(status="open"))
    again = build_sample_database(settings, seed=5, history=False)
    assert again.created
    with Session(engine) as session:
        campaigns = repository.list_campaigns(session, "dijon-metropole")
        assert [(c.name, c.status) for c in campaigns] == [(SAMPLE_CAMPAIGN_NAME, "locked")]
        stored = session.scalar(select(func.count()).select_from(ObservationRow))
    # The half-built night is gone, not doubled: the same seed stores the same night once.
    assert stored == again.observations == first.observations > 100
