"""Geometry shaped for display (plotly maps that draw without any network access)."""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd


def map_geojson(gdf: gpd.GeoDataFrame, id_column: str = "code") -> dict[str, Any]:
    """A GeoJSON FeatureCollection (EPSG:4326) keyed by ``id_column`` for plotly maps."""
    shaped = gpd.GeoDataFrame(
        {id_column: gdf[id_column].to_numpy()},
        geometry=gdf.geometry.to_crs("EPSG:4326").to_numpy(),  # positions, not index labels
        crs="EPSG:4326",
    )
    return json.loads(shaped.to_json(drop_id=True))


def map_view(gdf: gpd.GeoDataFrame, width_px: int = 900, height_px: int = 560) -> dict[str, Any]:
    """Centre and zoom of a web map that shows the whole of ``gdf``.

    Web-mercator tiles are 512 px wide at zoom 0 in MapLibre: the zoom is the largest at
    which the bounds fit in the frame, on both axes.
    """
    west, south, east, north = gdf.geometry.to_crs("EPSG:4326").total_bounds
    centre = {"lon": (west + east) / 2, "lat": (south + north) / 2}

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lon_fraction = max(east - west, 1e-6) / 360
    lat_fraction = max(mercator_y(north) - mercator_y(south), 1e-6) / (2 * math.pi)
    zoom = min(
        math.log2(width_px / 512 / lon_fraction), math.log2(height_px / 512 / lat_fraction)
    )
    return {"center": centre, "zoom": max(0.0, zoom - 0.15)}


def area_map(
    gdf: gpd.GeoDataFrame,
    id_column: str,
    *,
    height: int = 560,
    width_px: int = 560,
    tiles_url: str | None = None,
    attribution: str = "",
    **choropleth_options: Any,
):
    """A plotly choropleth of ``gdf``'s areas that draws with no network at all.

    MapLibre on a blank style (``white-bg``) rather than plotly's ``geo`` maps, which fetch
    a world outline from a CDN and draw nothing without it. ``tiles_url`` (``{z}``, ``{x}``,
    ``{y}``; `Settings.tiles_url`) adds a street basemap under the areas, credited with
    ``attribution``: the browser loads it when online, and offline the bare outline stays
    on the blank style. ``width_px`` is the
    narrowest frame the map must fit (a tablet column); options go to
    `plotly.express.choropleth_map` (``color``, ``hover_data``, ``labels``...).
    """
    import plotly.express as px

    figure = px.choropleth_map(
        gdf.drop(columns=gdf.geometry.name),
        geojson=map_geojson(gdf, id_column),
        locations=id_column,
        featureidkey=f"properties.{id_column}",
        map_style="white-bg",
        # Over streets, a light fill: the team must read the street names under it.
        opacity=0.4 if tiles_url else 0.85,
        **map_view(gdf, width_px=width_px, height_px=height),
        **choropleth_options,
    )
    figure.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=height)
    if tiles_url:
        figure.update_layout(map_layers=[{
            "below": "traces", "sourcetype": "raster", "source": [tiles_url],
            "sourceattribution": attribution}])  # fmt: skip
    return figure
