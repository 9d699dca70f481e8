"""Geometry shaped for display (plotly maps that draw without any network access)."""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from observatoire.formats_fr import PLOTLY_SEPARATORS


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


# --- maps on plain axes ----------------------------------------------------------------------
# Areas drawn as SVG paths on plain axes need no network and no WebGL: in a browser without
# a graphics card (a staff laptop, headless Chromium) a MapLibre map of 579 sectors takes
# 0.5-1 s to draw, the same outlines as filled paths a few tens of milliseconds.


def in_degrees(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` in EPSG:4326 (longitude, latitude), as the plain-axes maps draw it."""
    return gdf if gdf.crs is None or gdf.crs.to_epsg() == 4326 else gdf.to_crs("EPSG:4326")


def outline_xy(geometries) -> tuple[np.ndarray, np.ndarray]:
    """Every exterior ring of ``geometries`` (EPSG:4326, polygons or multipolygons) as one
    x and one y array, each ring closed and followed by a NaN: a plotly trace with
    ``fill="toself"`` fills each ring and draws no line between them."""
    import shapely

    parts = shapely.get_parts(np.asarray(geometries, dtype=object))
    rings = shapely.get_exterior_ring(parts[~shapely.is_empty(parts)])
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return np.array([]), np.array([])
    ends = np.flatnonzero(np.diff(ring)) + 1
    gaps = np.full((len(ends) + 1, 2), np.nan)
    rows = np.insert(coords, np.append(ends, len(coords)), gaps, axis=0)
    return np.round(rows[:, 0], 5), np.round(rows[:, 1], 5)


def plain_axes_map(figure, geometries, *, height: int = 560) -> None:
    """Frame ``figure`` on the bounds of ``geometries`` (EPSG:4326), north up, with the
    aspect of a map at that latitude, and no axis drawn."""
    import shapely

    bounds = shapely.total_bounds(np.asarray(geometries, dtype=object)) if len(geometries) \
        else (0, 0, 1, 1)  # fmt: skip
    middle = (bounds[1] + bounds[3]) / 2
    figure.update_xaxes(visible=False)
    figure.update_yaxes(
        visible=False, scaleanchor="x", scaleratio=1 / max(math.cos(math.radians(middle)), 0.1)
    )
    figure.update_layout(height=height, plot_bgcolor="white")


def category_map(
    gdf: gpd.GeoDataFrame,
    category: str,
    colours: dict[str, str],
    hover: pd.Series,
    *,
    height: int = 560,
):
    """A map of ``gdf``'s areas filled by ``gdf[category]`` (one colour of ``colours`` each,
    legend in that order), ``hover`` (one text per area) shown over each area's inner point.

    One filled trace per category, whatever the number of areas: cheap to send and to draw.
    """
    import plotly.graph_objects as go
    import shapely

    gdf = in_degrees(gdf)
    geometries = gdf.geometry.to_numpy()
    traces = []
    for label, colour in colours.items():
        chosen = (gdf[category] == label).to_numpy()
        x, y = outline_xy(geometries[chosen])
        traces.append(go.Scatter(
            x=x, y=y, mode="lines", fill="toself", fillcolor=colour, name=label,
            line={"color": "white", "width": 1}, hoverinfo="skip",
            showlegend=bool(chosen.any()),
        ))  # fmt: skip
    points = shapely.point_on_surface(geometries)
    traces.append(go.Scatter(
        x=shapely.get_x(points), y=shapely.get_y(points), mode="markers",
        marker={"size": 8, "color": "rgba(0,0,0,0)"}, text=list(hover), hoverinfo="text",
        showlegend=False,
    ))  # fmt: skip
    figure = go.Figure(traces, layout={
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.02}, "separators": PLOTLY_SEPARATORS})  # fmt: skip
    plain_axes_map(figure, geometries, height=height)
    return figure
