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
                 "--no-history", "--no-feeds"]) == 0
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
    first = build_sample_database(settings, seed=5, history=False, partner_feeds=False)
    engine = open_database(settings)
    # What a build killed before its last step leaves: the night not yet locked.
    with engine.begin() as connection:
        connection.execute(update(CampaignRow).values(status="open"))
    again = build_sample_database(settings, seed=5, history=False, partner_feeds=False)
    assert again.created
    with Session(engine) as session:
        campaigns = repository.list_campaigns(session, "dijon-metropole")
        assert [(c.name, c.status) for c in campaigns] == [(SAMPLE_CAMPAIGN_NAME, "locked")]
        stored = session.scalar(select(func.count()).select_from(ObservationRow))
    # The half-built night is gone, not doubled: the same seed stores the same night once.
    assert stored == again.observations == first.observations > 100


def test_the_sample_build_imports_the_partner_files_pseudonymised_and_links_them(tmp_path):
    """The demo's full path: night, partner files imported through the feed formats with the
    sample's key, linkage of everything stored. No name of the sample is stored in clear."""
    import re

    import pandas as pd
    from sqlalchemy import func, select, text

    from observatoire.pipeline import SAMPLE_KEY_FILE, build_sample_database
    from observatoire.store.tables import PersonRow, SourceRecordRow

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    build = build_sample_database(settings, seed=9, history=False)
    key_file = tmp_path / SAMPLE_KEY_FILE
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    engine = open_database(settings)
    truth = pd.read_csv(build.files["verite_personnes"], dtype=str)
    partner_rows = sum(
        len(pd.read_csv(build.files[name], sep=None, engine="python", dtype=str,
                        encoding="cp1252" if name in ("si_siao", "maraude") else "utf-8-sig"))
        for name in ("si_siao", "appels_115", "maraude", "accueil_jour")
    )  # fmt: skip
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(SourceRecordRow))
        linked = session.scalar(
            select(func.count()).select_from(SourceRecordRow)
            .where(SourceRecordRow.person_id.is_not(None))
        )  # fmt: skip
        persons = session.scalar(select(func.count()).select_from(PersonRow))
    # Every partner row is stored (or quarantined, or a duplicate row of the same file).
    assert 0.95 * partner_rows <= stored <= partner_rows
    assert linked == stored
    # Fewer persons than records, and the right order of magnitude of the truth.
    assert len(truth) / 2 < persons < stored
    with engine.connect() as connection:
        dump = " ".join(
            str(row) for table in ("person", "observation")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
        ).upper()  # fmt: skip
        records = connection.execute(select(SourceRecordRow)).mappings().all()
    # Pseudonyms are keyed hashes (hex) or Bloom filters (base64), or short codes: their
    # letters may spell a name by chance, so they are checked by shape, the rest by content.
    encoded = re.compile(r"[0-9a-f]{16,}|[A-Za-z0-9+/]{40,}={0,2}|jour|annee|\d{1,2}")
    shapes = {v for r in records for v in r["pseudonyms"].values() if not encoded.fullmatch(v)}
    assert not shapes, f"pseudonyms that are not encodings: {sorted(shapes)[:10]}"
    dump += " ".join(
        f"{r['commune_code']} {r['sex']} {r['birth_year']} {r['attributes']}" for r in records
    ).upper()
    names = {n.upper() for n in pd.concat([truth["last_name"], truth["first_name"]])
             if isinstance(n, str) and len(n) >= 5}  # fmt: skip
    leaked = sorted(n for n in names if n in dump)
    assert not leaked, f"names stored in clear: {leaked[:10]}"
