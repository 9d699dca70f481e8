"""Map shaping: every area keeps its shape, and the view frames the whole territory."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box, shape

from observatoire.geo.display import area_map, map_geojson, map_view


@pytest.fixture
def sectors():
    frame = gpd.GeoDataFrame(
        {"sector_code": ["A", "B", "C"]},
        geometry=[box(5.00, 47.30, 5.01, 47.31), box(5.01, 47.30, 5.02, 47.31),
                  box(5.02, 47.31, 5.03, 47.32)],
        crs="EPSG:4326",
    )
    return frame.to_crs("EPSG:2154")


def test_a_filtered_frame_keeps_its_shapes(sectors):
    # One team's sector, as the entry page selects it: its index label is not 0.
    own = sectors[sectors["sector_code"] == "C"]
    features = map_geojson(own, "sector_code")["features"]
    assert [f["properties"]["sector_code"] for f in features] == ["C"]
    assert shape(features[0]["geometry"]).equals_exact(box(5.02, 47.31, 5.03, 47.32), 1e-6)


@pytest.mark.parametrize(("width", "height"), [(560, 320), (900, 560)])
def test_the_view_frames_the_bounds(sectors, width, height):
    view = map_view(sectors, width_px=width, height_px=height)
    assert view["center"]["lon"] == pytest.approx(5.015, abs=1e-6)
    assert view["center"]["lat"] == pytest.approx(47.31, abs=1e-6)
    # 3 km across in 560 px: a street-level zoom, but not beyond what fits.
    span_px = 512 * 2 ** view["zoom"] * 0.03 / 360
    assert 0.5 * width < span_px <= width


def test_area_map_draws_every_area_without_tiles(sectors):
    figure = area_map(sectors, "sector_code", color="sector_code")
    assert figure.layout.map.style == "white-bg"
    drawn = {loc for trace in figure.data for loc in trace.locations}
    assert drawn == {"A", "B", "C"}
    assert all(f["geometry"] for f in figure.data[0].geojson["features"])


def test_area_map_lays_the_configured_basemap_under_the_areas(sectors):
    from observatoire.config import PLAN_IGN_TILES, load_settings

    settings = load_settings({"OBSERVATOIRE_TILES_ATTRIBUTION": "Fond : essai (licence)"})
    figure = area_map(sectors, "sector_code", color="sector_code",
                      tiles_url=settings.tiles_url, attribution=settings.tiles_attribution)
    (layer,) = figure.layout.map.layers
    assert layer.source == (PLAN_IGN_TILES,) and layer.below == "traces"
    assert layer.sourceattribution == "Fond : essai (licence)"
    # The areas are still drawn: offline the browser shows them without the tiles.
    assert figure.layout.map.style == "white-bg"
    assert {loc for trace in figure.data for loc in trace.locations} == {"A", "B", "C"}
    assert load_settings({}).tiles_attribution.startswith("Fond de plan : Plan IGN")


def test_outlines_close_each_ring_and_separate_the_rings(sectors):
    from observatoire.geo.display import in_degrees, outline_xy

    x, y = outline_xy(in_degrees(sectors).geometry.to_numpy())
    gaps = np.flatnonzero(np.isnan(x))
    assert list(gaps) == [5, 11, 17]  # three boxes of four corners, each closed, then a gap
    assert np.array_equal(np.isnan(x), np.isnan(y))
    first = slice(0, 5)
    assert (x[first][0], y[first][0]) == (x[first][-1], y[first][-1])
    assert sorted(set(x[first])) == [5.0, 5.01] and sorted(set(y[first])) == [47.3, 47.31]


def test_a_category_map_fills_each_area_with_its_category_s_colour(sectors):
    from observatoire.geo.display import category_map

    frame = sectors.assign(statut=["Parcouru", "Pas commencé", "Parcouru"])
    colours = {"Parcouru": "#59a14f", "En cours": "#f28e2b", "Pas commencé": "#bab0ac"}
    figure = category_map(frame, "statut", colours, frame["sector_code"] + " !")
    filled = {t.name: t for t in figure.data if t.fill == "toself"}
    assert list(filled) == list(colours)
    assert {n: int(np.isnan(np.asarray(t.x, dtype=float)).sum()) for n, t in filled.items()} \
        == {"Parcouru": 2, "En cours": 0, "Pas commencé": 1}  # fmt: skip
    assert [t.showlegend for t in filled.values()] == [True, False, True]
    assert not figure.layout.legend.title.text  # the categories say it: no raw "statut"
    assert {t.fillcolor for t in filled.values()} == set(colours.values())
    (hover,) = [t for t in figure.data if t.mode == "markers"]
    assert list(hover.text) == ["A !", "B !", "C !"]
    assert 5.0 < hover.x[0] < 5.01 and 47.3 < hover.y[0] < 47.31  # inside A, in degrees
    assert figure.layout.yaxis.scaleanchor == "x"
