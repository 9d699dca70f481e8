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

    from observatoire.sample_database import SAMPLE_CAMPAIGN_NAME, build_sample_database
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
        # The sample's night is closed then published, so that the public pages show it.
        assert [(c.name, c.status) for c in campaigns] == [(SAMPLE_CAMPAIGN_NAME, "published")]
        stored = session.scalar(select(func.count()).select_from(ObservationRow))
    # The half-built night is gone, not doubled: the same seed stores the same night once.
    assert stored == again.observations == first.observations > 100


def test_the_sample_build_imports_the_partner_files_pseudonymised_and_links_them(tmp_path):
    """The demo's full path: night, partner files imported through the feed formats with the
    sample's key, linkage of everything stored. No name of the sample is stored in clear."""
    import re

    import pandas as pd
    from sqlalchemy import func, select, text

    from observatoire.sample_database import SAMPLE_KEY_FILE, build_sample_database
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

    # The de-duplicated estimate counts the night's sightings with the partner records:
    # people met on the night, and among them those no partner knows, read here straight
    # from the linkage's tables.
    from observatoire.store import feed_aggregates

    with engine.connect() as connection:
        sightings = [r[0] for r in connection.execute(text(
            "SELECT op.person_id FROM observation o JOIN observation_person op "
            "ON op.observation_id = o.id WHERE o.situation != 'already_answered'"))]
        met = set(sightings)
        known = {r[0] for r in connection.execute(text(
            "SELECT DISTINCT person_id FROM source_record WHERE person_id IS NOT NULL"))}
    with Session(engine) as session:
        summary = feed_aggregates.cluster_summary(session, "dijon-metropole")
    assert summary.met_on_night == len(met) > 0
    assert summary.unknown_to_partners == len(met - known) > 0
    assert summary.records == stored + len(sightings)
    # The tile shows the linkage run's estimate and 90 % interval, not a figure of its own.
    with engine.connect() as connection:
        run = tuple(connection.execute(text(
            "SELECT people_estimate, people_low, people_high FROM linkage_run "
            "ORDER BY id DESC LIMIT 1")).one())
    with Session(engine) as session:
        tile = feed_aggregates.distinct_estimate(session, "dijon-metropole")
    assert (tile.estimate, tile.low, tile.high) == run
    assert tile.low < tile.estimate < tile.high


# Labels of the partners' tally file -> lines of the a minima breakdown, written out here so
# that the expected figures come from the file alone, not from the import or the indicators.
_BREAKDOWN_LINES = {"Gare": "gare", "Métro": "metro", "Hôpital": "hopital",
                    "Parking": "parking", "Bailleur social": "bailleur_social",
                    "Campement": "campement", "Parc": "campement", "Berges": "campement",
                    "Bois": "bois", "Autre": "autre"}  # fmt: skip


def _tally_breakdown(path) -> dict[str, int]:
    import pandas as pd

    frame = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    lines = frame["Type de lieu"].map(_BREAKDOWN_LINES)
    assert lines.notna().all()
    sums = frame["Nombre de personnes"].astype(int).groupby(lines).sum()
    return {line: int(people) for line, people in sums.items()}


def _a_minima_by_night(engine) -> dict:
    from observatoire.indicators import campaign_a_minima
    from observatoire.indicators.service import load_inputs

    inputs = load_inputs(engine, "dijon-metropole", with_feeds=False)
    return {
        row.night_date: campaign_a_minima(inputs, row.campaign_id)
        for row in inputs.campaigns.itertuples()
    }


def test_the_sample_a_minima_counts_the_partner_places_of_each_night(tmp_path):
    import datetime as dt

    from sqlalchemy import func, select

    from observatoire.sample_database import (
        SAMPLE_NIGHT,
        add_sample_history,
        build_sample_database,
    )
    from observatoire.store.feeds_tables import PlaceTallyRow

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    build = build_sample_database(settings, seed=5, history=False, partner_feeds=False)
    engine = open_database(settings)
    earlier = dt.date(2025, 1, 30)
    add_sample_history(engine, "dijon-metropole", nights=(earlier,), settings=settings)
    folder = settings.samples_dir / "dijon-metropole"
    files = {SAMPLE_NIGHT: build.files["decomptes_lieux"],
             earlier: folder / "nuit-2025-01-30" / "decomptes_lieux.csv"}  # fmt: skip
    counts = _a_minima_by_night(engine)
    assert counts.keys() == files.keys()
    for night, path in files.items():
        expected = _tally_breakdown(path)
        assert counts[night].places == expected, night
        assert counts[night].street > 100 and counts[night].partners == sum(expected.values())
        assert {"gare", "parking", "campement"} <= expected.keys()
    assert counts[SAMPLE_NIGHT].places != counts[earlier].places
    first = counts[SAMPLE_NIGHT].places

    # Rebuilt, with the same seed (the same file is imported again, not skipped as already
    # imported) and with another (its tallies replace the first ones, nothing is added).
    for seed in (5, 6):
        again = build_sample_database(settings, seed=seed, reset=True, history=False,
                                      partner_feeds=False)  # fmt: skip
        counts = _a_minima_by_night(engine)
        assert list(counts) == [SAMPLE_NIGHT]
        assert counts[SAMPLE_NIGHT].places == _tally_breakdown(again.files["decomptes_lieux"])
        assert (counts[SAMPLE_NIGHT].places == first) == (seed == 5)
    with Session(engine) as session:
        left = session.scalar(
            select(func.count()).select_from(PlaceTallyRow)
            .where(PlaceTallyRow.night_date == earlier)
        )  # fmt: skip
    assert left == 0  # the deleted night's tallies went with it
