"""Plotly figures of a publication: the commune map (counts or rates) and the trend.

The map is drawn as filled polygons on plain axes rather than a ``geo`` choropleth:
plotly's geo layer downloads a world topojson from a CDN even when hidden, which fails
offline (closed servers, the PNG export). Plain shapes need nothing but the data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from observatoire.formats_fr import PLOTLY_SEPARATORS, number_fr
from observatoire.geo.display import in_degrees, outline_xy, plain_axes_map

MEASURES = {"personnes": "Personnes sans abri (a minima)", "pour_10000": "Pour 10 000 habitants"}
SECRET_COLOR = "#d9d9d9"
COLORSCALE = "OrRd"


def _svg_path(x: np.ndarray, y: np.ndarray) -> str:
    """An SVG path of the rings of `outline_xy` (NaN between rings), each closed."""
    rings, ring = [], []
    for a, b in zip(x, y, strict=True):
        if np.isnan(a):
            rings.append("M" + "L".join(ring) + "Z")
            ring = []
        else:
            ring.append(f"{a},{b}")
    return "".join(rings)


def choropleth(
    shapes: gpd.GeoDataFrame,
    value: str,
    title: str,
    *,
    hover: str = "nom",
    secret_text: str = "secret statistique",
    decimals: int = 0,
) -> go.Figure:
    """A choropleth of ``shapes[value]`` (NaN/NA drawn grey as ``secret_text``), values in
    French with at most ``decimals`` decimals.

    Each area is a filled path of the layout (one trace per area would cost the browser
    tens of milliseconds each); its text shows over the nearest area's inner point.
    """
    import shapely

    values = pd.to_numeric(shapes[value].astype("Float64"), errors="coerce").astype(float)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    high = high if high > low else low + 1  # one value everywhere: a scale from it, not ±0.5
    span = high - low
    colors = sample_colorscale(COLORSCALE, [(v - low) / span if np.isfinite(v) else 0 for v in
                                            values])  # fmt: skip
    geometries = in_degrees(shapes).geometry.to_numpy()
    areas, texts = [], []
    for geometry, name, v, color in zip(geometries, shapes[hover], values, colors, strict=True):
        shown = np.isfinite(v)
        texts.append(f"{name}<br>{title} : {number_fr(v, decimals) if shown else secret_text}")
        areas.append({
            "type": "path", "path": _svg_path(*outline_xy([geometry])), "layer": "below",
            "xref": "x", "yref": "y", "fillcolor": color if shown else SECRET_COLOR,
            "line": {"color": "white", "width": 1}})  # fmt: skip
    points = shapely.point_on_surface(geometries)
    traces = [
        go.Scatter(
            x=shapely.get_x(points), y=shapely.get_y(points), mode="markers", text=texts,
            hoverinfo="text", showlegend=False, marker={"size": 10, "color": "rgba(0,0,0,0)"},
        ),
        # An invisible point carries the colour bar.
        go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker={"colorscale": COLORSCALE, "cmin": low, "cmax": high, "color": [low],
                    "showscale": True, "colorbar": {"title": {"text": title}}},
        ),
    ]  # fmt: skip
    if shapes[value].isna().any():
        traces.append(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=secret_text[:1].upper() + secret_text[1:],
                marker={"color": SECRET_COLOR, "size": 12, "symbol": "square"},
            )
        )
    figure = go.Figure(traces, layout={
        "shapes": areas, "margin": {"l": 0, "r": 0, "t": 40, "b": 0}, "title": title,
        "legend": {"orientation": "h", "y": -0.02}, "separators": PLOTLY_SEPARATORS,
        # The text of the area nearest the pointer, wherever it is on the map.
        "hovermode": "closest", "hoverdistance": -1})  # fmt: skip
    plain_axes_map(figure, geometries)
    return figure


def commune_map(publication, geometries: gpd.GeoDataFrame, measure: str = "personnes") -> go.Figure:
    """Map of the published commune figures; secret communes in grey, without a value.

    ``publication``: an `observatoire.publish.report.Publication`; ``geometries``: ``code``
    and geometry (EPSG:4326).
    """
    cells = publication.commune_cells()
    shapes = geometries[["code", "geometry"]].merge(
        cells[["code", "nom", "personnes", "pour_10000"]], on="code", how="inner"
    )
    return choropleth(
        shapes, measure, MEASURES[measure],
        secret_text=f"regroupée dans « {publication.rules.other_label} » (secret statistique)",
        decimals=0 if measure == "personnes" else 1,
    )  # fmt: skip


def trend_figure(publication) -> go.Figure:
    trend = publication.trend.dropna(subset=["personnes"])
    figure = go.Figure(
        go.Scatter(
            x=[str(n) for n in trend["nuit"]],
            y=trend["personnes"].astype(float),
            mode="lines+markers",
            name="Personnes sans abri (a minima)",
        )
    )
    figure.update_layout(
        height=320, margin={"l": 0, "r": 0, "t": 30, "b": 0},
        title="Évolution d'une nuit de comptage à l'autre", yaxis_rangemode="tozero",
    )  # fmt: skip
    return figure
