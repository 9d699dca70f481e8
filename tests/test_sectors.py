"""Grid sectors and point-in-commune assignment (observatoire.geo.sectors)."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from observatoire.geo.sectors import (
    assign_points_to_communes,
    generate_grid_sectors,
    projected_crs,
)
from observatoire.geo.territories import load_reference_territory

CASES = [
    pytest.param(("dijon-metropole", 1000), id="dijon-1km"),
    pytest.param(("paris", 500), id="paris-500m"),
]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    slug, size = request.param
    communes = load_reference_territory(slug)
    sectors = generate_grid_sectors(communes, size)
    return communes.to_crs(2154), sectors, sectors.to_crs(2154), size


def test_columns_and_codes(case):
    communes, sectors, _, _ = case
    assert list(sectors.columns) == ["sector_code", "commune_code", "area_m2", "geometry"]
    assert sectors.crs.to_epsg() == 4326
    assert sectors["sector_code"].is_unique
    assert all(re.fullmatch(r"S\d{5}-\d{3}", c) for c in sectors["sector_code"])
    assert set(sectors["commune_code"]) == set(communes["code"])


def test_sectors_do_not_overlap(case):
    _, _, projected, _ = case
    left, right = projected.sindex.query(projected.geometry, predicate="intersects")
    pairs = left < right
    overlap = projected.geometry.iloc[left[pairs]].intersection(
        projected.geometry.iloc[right[pairs]], align=False
    )
    assert overlap.area.sum() < 1e-6 * projected.area.sum()


def test_sectors_cover_the_communes(case):
    communes, _, projected, _ = case
    assert projected.union_all().area == pytest.approx(communes.union_all().area, rel=0.01)
    assert projected.area.sum() == pytest.approx(communes.area.sum(), rel=0.01)


def test_every_sector_lies_in_its_commune(case):
    communes, _, projected, _ = case
    by_code = communes.set_index("code").geometry
    own = by_code.loc[projected["commune_code"]].to_numpy()
    inside = projected.geometry.intersection(gpd.GeoSeries(own, crs=2154), align=False).area
    assert (inside >= 0.999 * projected.area).all()


def test_no_sliver_sectors(case):
    communes, sectors, _, size = case
    small = sectors[sectors["area_m2"] < 0.05 * size * size]
    # Only a commune smaller than a sliver may have one, and then it is its only sector.
    assert set(small["commune_code"]) <= set(communes[communes.area < 0.05 * size * size]["code"])


def test_sectors_are_numbered_north_to_south(case):
    _, sectors, projected, size = case
    for code in sectors["commune_code"].unique()[:5]:
        mine = projected[projected["commune_code"] == code].bounds
        # The first sector is in the top row of the grid, the last one in the bottom row.
        assert mine["maxy"].max() - mine["maxy"].iloc[0] < size
        assert mine["miny"].iloc[-1] - mine["miny"].min() < size


def test_generation_is_deterministic(case):
    communes, sectors, _, size = case
    again = generate_grid_sectors(communes.sample(frac=1, random_state=7), size)
    assert list(again["sector_code"]) == list(sectors["sector_code"])
    assert again.geom_equals_exact(sectors, tolerance=1e-9).all()


def test_overlapping_communes_still_give_disjoint_sectors():
    communes = gpd.GeoDataFrame(
        {"code": ["21231", "21166"]},
        geometry=[
            box(850_000, 6_690_000, 853_000, 6_693_000),
            box(852_000, 6_690_000, 855_000, 6_693_000),
        ],
        crs=2154,
    )
    sectors = generate_grid_sectors(communes, 1000).to_crs(2154)
    assert sectors.area.sum() == pytest.approx(15_000_000, rel=1e-6)
    assert sectors.union_all().area == pytest.approx(sectors.area.sum(), rel=1e-6)
    # The overlap goes to the smaller code: 21166 keeps its 9 km², 21231 the other 6.
    assert sectors["commune_code"].value_counts().to_dict() == {"21166": 9, "21231": 6}


@pytest.mark.parametrize("size", [0, -100, float("nan")], ids=["zero", "negative", "nan"])
def test_invalid_size(size):
    communes = load_reference_territory("paris")
    with pytest.raises(ValueError, match="Taille de secteur invalide"):
        generate_grid_sectors(communes, size)


def test_projection_choice():
    paris = load_reference_territory("paris")
    assert projected_crs(paris).to_epsg() == 2154
    reunion = gpd.GeoDataFrame(
        {"code": ["97411"]}, geometry=[box(55.4, -21.0, 55.5, -20.9)], crs=4326
    )
    assert projected_crs(reunion).to_epsg() == 32740


@pytest.fixture(scope="module")
def paris():
    return load_reference_territory("paris")


@pytest.mark.parametrize(
    "kind",
    ["geodataframe", "dataframe-lonlat", "pairs"],
)
def test_assign_points_to_communes(paris, kind):
    inner = paris.to_crs(2154).representative_point().to_crs(4326)
    lon = [*inner.x, 5.0415]  # the last point is in Dijon: outside Paris
    lat = [*inner.y, 47.3220]
    if kind == "geodataframe":
        points = gpd.GeoDataFrame(
            geometry=[Point(x, y) for x, y in zip(lon, lat, strict=True)], crs=4326
        )
    elif kind == "dataframe-lonlat":
        points = pd.DataFrame({"longitude": lon, "latitude": lat}, index=range(100, 100 + len(lon)))
    else:
        points = list(zip(lon, lat, strict=True))
    codes = assign_points_to_communes(points, paris)
    assert codes.tolist() == [*paris["code"], None]
    if kind == "dataframe-lonlat":
        assert list(codes.index) == list(points.index)
