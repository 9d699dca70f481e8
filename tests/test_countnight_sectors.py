"""Sector polygons uploaded by the coordinator (`read_sector_file`) and the live coverage
of a campaign cut from them (`coverage`), on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, box
from sqlalchemy.orm import Session
from test_survey_factories import NIGHT, interview, small_territory

from observatoire.countnight import coverage, entry, lifecycle, sector_files, team_sheets
from observatoire.model import ObservatoireError
from observatoire.store import repository
from observatoire.store.db import upgrade_database

DIJON, CHENOVE = "21231", "21166"
# Two sectors in each commune of the test territory (Dijon north of 47.30, Chenôve south).
SECTORS = [
    box(5.000, 47.300, 5.010, 47.320),  # Dijon, west
    box(5.010, 47.300, 5.020, 47.320),  # Dijon, east
    box(5.000, 47.280, 5.010, 47.300),  # Chenôve, west
    box(5.010, 47.280, 5.020, 47.300),  # Chenôve, east
]


@pytest.fixture
def communes() -> gpd.GeoDataFrame:
    territory = small_territory()
    return gpd.GeoDataFrame(
        {"code": [c.code for c in territory.communes]},
        geometry=[shapely.from_wkb(c.geometry_wkb) for c in territory.communes],
        crs=4326,
    )


def _write(tmp_path, frame: gpd.GeoDataFrame, name: str = "secteurs.geojson", **kwargs):
    path = tmp_path / name
    frame.to_file(path, **kwargs)
    return path


def _sectors(geometries=SECTORS, crs=4326, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs)


# --- reading the file ----------------------------------------------------------------------


def test_a_good_geojson_gets_communes_and_generated_codes(tmp_path, communes):
    read = sector_files.read_sector_file(_write(tmp_path, _sectors()), communes)
    assert list(read.columns) == ["sector_code", "commune_code", "geometry"]
    assert read.crs.to_epsg() == 4326
    assert list(read["commune_code"]) == [DIJON, DIJON, CHENOVE, CHENOVE]
    assert list(read["sector_code"]) == [
        f"S{DIJON}-001", f"S{DIJON}-002", f"S{CHENOVE}-003", f"S{CHENOVE}-004"
    ]
    assert read.geometry.geom_equals_exact(gpd.GeoSeries(SECTORS, crs=4326), 1e-9).all()


def test_codes_given_in_the_file_are_kept(tmp_path, communes):
    frame = _sectors(sector_code=["N1", "N2", "S1", "S2"],
                     commune_code=[DIJON, DIJON, CHENOVE, CHENOVE])
    read = sector_files.read_sector_file(_write(tmp_path, frame), communes)
    assert list(read["sector_code"]) == ["N1", "N2", "S1", "S2"]
    assert list(read["commune_code"]) == [DIJON, DIJON, CHENOVE, CHENOVE]


def test_an_uploaded_buffer_reads_like_a_file(tmp_path, communes):
    """`st.file_uploader` hands over a file-like object, not a path."""
    data = _write(tmp_path, _sectors()).read_bytes()
    read = sector_files.read_sector_file(io.BytesIO(data), communes)
    assert len(read) == 4


@pytest.mark.parametrize(
    ("name", "driver"),
    [("lambert93.geojson", "GeoJSON"), ("lambert93.gpkg", "GPKG")],
    ids=["geojson", "geopackage"],
)
def test_sectors_in_lambert93_are_reprojected(tmp_path, communes, name, driver):
    frame = _sectors(sector_code=["N1", "N2", "S1", "S2"]).to_crs(2154)
    assert frame.total_bounds[0] > 800_000  # metres, not degrees
    read = sector_files.read_sector_file(_write(tmp_path, frame, name, driver=driver), communes)
    assert read.crs.to_epsg() == 4326
    assert list(read["commune_code"]) == [DIJON, DIJON, CHENOVE, CHENOVE]
    for got, expected in zip(read.geometry, SECTORS, strict=True):
        assert got.symmetric_difference(expected).area < 1e-10


def test_projected_coordinates_without_a_declared_crs_are_refused(tmp_path, communes):
    """Lambert-93 numbers read as degrees land nowhere near the territory."""
    projected = _sectors().to_crs(2154)
    frame = gpd.GeoDataFrame(geometry=list(projected.geometry))  # the CRS is lost
    path = tmp_path / "sans-crs.geojson"
    path.write_text(frame.to_json())
    with pytest.raises(ObservatoireError, match="4 secteur\\(s\\) hors du territoire : "
                                                "vérifiez le système de coordonnées"):
        sector_files.read_sector_file(path, communes)


def test_a_polygon_outside_the_territory_is_refused(tmp_path, communes):
    paris = box(2.34, 48.85, 2.35, 48.86)
    with pytest.raises(ObservatoireError, match="1 secteur\\(s\\) hors du territoire"):
        sector_files.read_sector_file(_write(tmp_path, _sectors([*SECTORS, paris])), communes)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Fichier de secteurs illisible"),
        (b"{\"type\": \"FeatureCollection\", \"features\": [", "Fichier de secteurs illisible"),
        (b"\x00\x01 pas un fichier SIG \xff", "Fichier de secteurs illisible"),
        (b'{"type": "FeatureCollection", "features": []}', "aucun polygone"),
    ],
    ids=["absent", "json-tronque", "binaire", "vide"],
)
def test_missing_corrupt_or_empty_files_are_refused_clearly(tmp_path, communes, content,
                                                            message):
    path = tmp_path / "secteurs.geojson"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ObservatoireError, match=message) as error:
        sector_files.read_sector_file(path, communes)
    if message.startswith("Fichier"):
        assert "Fournissez un GeoJSON ou un GeoPackage" in str(error.value)


def test_points_and_duplicate_codes_are_refused(tmp_path, communes):
    points = _sectors([Point(5.005, 47.31), Point(5.005, 47.29)])
    with pytest.raises(ObservatoireError, match="doivent être des polygones"):
        sector_files.read_sector_file(_write(tmp_path, points), communes)
    twice = _sectors(sector_code=["N1", "N1", "S1", "S2"])
    with pytest.raises(ObservatoireError, match="Codes de secteur en double : N1"):
        sector_files.read_sector_file(_write(tmp_path, twice, "double.geojson"), communes)


# --- a campaign cut from the file, and its live coverage (both backends) -------------------


@pytest.fixture
def uploaded_night(engine, tmp_path, communes):
    """An open campaign whose four sectors come from an uploaded file, one team each."""
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, small_territory())
    frame = _sectors(sector_code=["N1", "N2", "S1", "S2"]).to_crs(2154)
    sectors = sector_files.read_sector_file(_write(tmp_path, frame, "s.gpkg", driver="GPKG"),
                                          communes)
    campaign_id = lifecycle.create_campaign(
        engine, "test-territoire", "NDLS fichier", NIGHT, questionnaire_version="ndls-2026",
        sectors=sectors, actor="test",
    )
    lifecycle.open_campaign(engine, campaign_id, "test")
    sheet = team_sheets.team_sheets_table(engine, campaign_id)
    return campaign_id, dict(zip(sheet["sector_code"], sheet["team_code"], strict=True))


def test_a_campaign_keeps_the_uploaded_sectors(engine, uploaded_night):
    campaign_id, teams = uploaded_night
    cov = coverage.coverage(engine, campaign_id)
    assert list(cov.sectors["sector_code"]) == ["N1", "N2", "S1", "S2"]
    assert list(cov.sectors["commune_code"]) == [DIJON, DIJON, CHENOVE, CHENOVE]
    assert cov.sectors.crs.to_epsg() == 4326
    for got, expected in zip(cov.sectors.geometry, SECTORS, strict=True):
        assert got.symmetric_difference(expected).area < 1e-10
    assert set(teams) == {"N1", "N2", "S1", "S2"}


def test_before_anything_is_sent_every_sector_is_not_started(engine, uploaded_night):
    campaign_id, _ = uploaded_night
    cov = coverage.coverage(engine, campaign_id)
    assert (cov.people, cov.walked, cov.in_progress, cov.not_started) == (0, 0, 0, 4)
    assert set(cov.sectors["statut"]) == {"Pas commencé"}
    assert cov.by_commune.to_dict("records") == [
        {"commune_code": CHENOVE, "personnes": 0, "secteurs": 2, "parcourus": 0},
        {"commune_code": DIJON, "personnes": 0, "secteurs": 2, "parcourus": 0},
    ]


def test_coverage_follows_the_night(engine, uploaded_night):
    """N1 walked with two people, N2 walked with nobody met, S1 in progress (one person
    recorded, not reported yet); S2's team has not started, but one person met by N1's team
    across the border of S2 counts in S2, which then shows as in progress."""
    campaign_id, teams = uploaded_night
    for _ in range(2):
        entry.submit(engine, interview(teams["N1"]))
    entry.submit(engine, interview(teams["N1"], sector_code="S2"))
    assert entry.report_sector(engine, teams["N1"]) == 3  # the team's tally
    assert entry.report_sector(engine, teams["N2"]) == 0
    entry.submit(engine, interview(teams["S1"], sex="F"))
    # The same questionnaire sent again (lost connection) counts once.
    again = interview(teams["S1"])
    entry.submit(engine, again)
    entry.submit(engine, again)

    cov = coverage.coverage(engine, campaign_id)
    by_sector = cov.sectors.set_index("sector_code")
    assert by_sector["status"].to_dict() == {
        "N1": "walked", "N2": "walked", "S1": "in_progress", "S2": "in_progress",
    }
    assert by_sector["statut"].to_dict()["N2"] == "Parcouru"
    assert by_sector["people"].to_dict() == {"N1": 2, "N2": 0, "S1": 2, "S2": 1}
    assert by_sector["reported_people"].to_dict()["N2"] == 0  # a zero is data, not a gap
    assert by_sector["team_code"].to_dict() == teams
    assert (cov.people, cov.walked, cov.in_progress, cov.not_started) == (5, 2, 2, 0)
    assert cov.by_commune.to_dict("records") == [
        {"commune_code": CHENOVE, "personnes": 3, "secteurs": 2, "parcourus": 0},
        {"commune_code": DIJON, "personnes": 2, "secteurs": 2, "parcourus": 2},
    ]


def test_a_sector_started_without_anyone_met_is_in_progress(engine, uploaded_night):
    campaign_id, teams = uploaded_night
    entry.report_sector(engine, teams["S2"], status="in_progress")
    cov = coverage.coverage(engine, campaign_id)
    status = dict(zip(cov.sectors["sector_code"], cov.sectors["statut"], strict=True))
    assert status == {"N1": "Pas commencé", "N2": "Pas commencé", "S1": "Pas commencé",
                      "S2": "En cours"}
    # Reported walked later: the report is replaced, not added.
    entry.report_sector(engine, teams["S2"])
    cov = coverage.coverage(engine, campaign_id)
    assert (cov.walked, cov.in_progress, cov.not_started) == (1, 0, 3)
    assert cov.by_commune.set_index("commune_code").loc[CHENOVE, "parcourus"] == 1


def test_sectors_not_walked_are_estimated_beside_the_count(engine, uploaded_night):
    """N1 walked with two people met, N2 walked with nobody: the two Chenôve sectors not
    started get the walked sectors' mean (one each); the count itself stays two."""
    campaign_id, teams = uploaded_night
    for _ in range(2):
        entry.submit(engine, interview(teams["N1"]))
    entry.report_sector(engine, teams["N1"])
    entry.report_sector(engine, teams["N2"])
    result = coverage.coverage_extrapolation(engine, campaign_id)
    assert (result.counted, result.estimate) == (2, 4)
    assert (result.sectors, result.walked, result.estimated_sectors) == (4, 2, 2)
    low, high = result.interval_95
    assert low <= 4 <= high and low >= 2
    by_commune = result.by_commune.set_index("commune_code")
    assert by_commune.loc[CHENOVE, ["counted", "estimate"]].tolist() == [0, 2]
    assert by_commune.loc[DIJON, ["counted", "estimate"]].tolist() == [2, 2]
