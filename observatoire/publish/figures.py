"""Plotly figures of a publication: the commune map (counts or rates) and the trend.

The map is drawn as filled polygons on plain axes rather than a ``geo`` choropleth:
plotly's geo layer downloads a world topojson from a CDN even when hidden, which fails
offline (closed servers, the PNG export). Plain shapes need nothing but the data.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from observatoire.formats_fr import number_fr

MEASURES = {"personnes": "Personnes sans abri (a minima)", "pour_10000": "Pour 10 000 habitants"}
SECRET_COLOR = "#d9d9d9"
COLORSCALE = "OrRd"


def _rings(geometry) -> list[np.ndarray]:
    polygons = getattr(geometry, "geoms", [geometry])
    return [np.asarray(p.exterior.coords) for p in polygons if not p.is_empty]


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
    French with at most ``decimals`` decimals."""
    values = pd.to_numeric(shapes[value].astype("Float64"), errors="coerce").astype(float)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = (high - low) or 1.0
    colors = sample_colorscale(COLORSCALE, [(v - low) / span if np.isfinite(v) else 0 for v in
                                            values])  # fmt: skip
    figure = go.Figure()
    for (_, row), v, color in zip(shapes.iterrows(), values, colors, strict=True):
        shown = np.isfinite(v)
        label = number_fr(v, decimals) if shown else secret_text
        text = f"{row[hover]}<br>{title} : {label}"
        for ring in _rings(row.geometry):
            figure.add_trace(
                go.Scatter(
                    x=ring[:, 0], y=ring[:, 1], mode="lines", fill="toself",
                    fillcolor=color if shown else SECRET_COLOR,
                    line={"color": "white", "width": 1}, hoveron="fills",
                    text=text, hoverinfo="text", showlegend=False,
                )
            )  # fmt: skip
    # An invisible point carries the colour bar.
    figure.add_trace(
        go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker={"colorscale": COLORSCALE, "cmin": low, "cmax": high, "color": [low],
                    "showscale": True, "colorbar": {"title": {"text": title}}},
        )
    )  # fmt: skip
    if shapes[value].isna().any():
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=secret_text[:1].upper() + secret_text[1:],
                marker={"color": SECRET_COLOR, "size": 12, "symbol": "square"},
            )
        )
    bounds = shapes.total_bounds if len(shapes) else (0, 0, 1, 1)
    middle = (bounds[1] + bounds[3]) / 2
    figure.update_xaxes(visible=False)
    figure.update_yaxes(
        visible=False, scaleanchor="x", scaleratio=1 / max(math.cos(math.radians(middle)), 0.1)
    )
    figure.update_layout(
        margin={"l": 0, "r": 0, "t": 40, "b": 0}, height=560, title=title,
        plot_bgcolor="white", legend={"orientation": "h", "y": -0.02},
    )  # fmt: skip
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
