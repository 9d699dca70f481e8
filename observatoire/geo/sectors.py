"""Count-night sectors and point-in-commune assignment.

Sectors are squares of a metric grid cut along commune boundaries, so that each sector lies
in exactly one commune. The grid is anchored on multiples of its size in a projected CRS
(Lambert-93 in metropolitan France, the local UTM zone overseas): the same commune and size
always give the same sectors and codes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

__all__ = ["assign_points_to_communes", "generate_grid_sectors", "projected_crs"]

LAMBERT_93 = CRS.from_epsg(2154)
# Metropolitan France and Corsica (lon/lat), the extent of Lambert-93.
_METROPOLE = (-5.5, 41.0, 10.0, 51.5)
SLIVER_SHARE = 0.05


def projected_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """Lambert-93 when ``gdf`` lies in metropolitan France, else its local UTM zone."""
    minx, miny, maxx, maxy = gdf.to_crs(4326).total_bounds
    lon_min, lat_min, lon_max, lat_max = _METROPOLE
    if lon_min <= minx and maxx <= lon_max and lat_min <= miny and maxy <= lat_max:
        return LAMBERT_93
    return gdf.to_crs(4326).estimate_utm_crs()


def _polygonal(geom: Any) -> Any:
    if geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _commune_cells(geom: Any, size: float) -> list[tuple[int, int, Any]]:
    """(row, column, piece) of the grid cells cut by ``geom``, pieces with an area."""
    minx, miny, maxx, maxy = geom.bounds
    cols = np.arange(math.floor(minx / size), math.ceil(maxx / size))
    rows = np.arange(math.floor(miny / size), math.ceil(maxy / size))
    cc, rr = np.meshgrid(cols, rows)
    cc, rr = cc.ravel(), rr.ravel()
    boxes = shapely.box(cc * size, rr * size, (cc + 1) * size, (rr + 1) * size)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    pieces = shapely.intersection(boxes[hit], geom)
    return [
        (int(r), int(c), _polygonal(p))
        for r, c, p in zip(rr[hit], cc[hit], pieces, strict=True)
        if _polygonal(p).area > 0
    ]


def _merge_slivers(cells: list[tuple[int, int, Any]], min_area: float) -> list[Any]:
    """Pieces in grid order (north to south, west to east), slivers merged into a neighbour.

    A sliver is merged into the sector of the same commune it shares the longest border
    with (the nearest one if it touches none), rather than dropped, so that the sectors
    still cover the commune. A commune smaller than a sliver stays one sector.
    """
    cells = sorted(cells, key=lambda cell: (-cell[0], cell[1]))
    pieces = [cell[2] for cell in cells]
    keep = [i for i, p in enumerate(pieces) if p.area >= min_area]
    if not keep:
        return [shapely.union_all(pieces)]
    merged: dict[int, list[Any]] = {i: [pieces[i]] for i in keep}
    for i, piece in enumerate(pieces):
        if i in merged:
            continue
        shared = [piece.boundary.intersection(pieces[j].boundary).length for j in keep]
        if max(shared) > 0:
            target = keep[int(np.argmax(shared))]
        else:
            target = keep[int(np.argmin([piece.distance(pieces[j]) for j in keep]))]
        merged[target].append(piece)
    return [_polygonal(shapely.union_all(merged[i])) for i in keep]


def generate_grid_sectors(
    communes: gpd.GeoDataFrame, size_m: float = 1000, *, prefix: str = "S"
) -> gpd.GeoDataFrame:
    """Cut the communes into square sectors of ``size_m`` metres.

    ``communes`` needs a ``code`` column (INSEE code) and polygons, as returned by
    `observatoire.geo.territories`. Returns a GeoDataFrame in EPSG:4326 with the columns
    ``sector_code`` (``f"{prefix}{commune_code}-{n:03d}"``, numbered north to south then
    west to east), ``commune_code``, ``area_m2`` and ``geometry``. Sectors do not overlap,
    cover the communes, and each lies in one commune: where two communes overlap, the
    overlap goes to the commune with the smaller code. Pieces under 5 % of a cell are
    merged into a neighbouring sector of the same commune.
    """
    if not size_m or size_m <= 0 or not math.isfinite(size_m):
        raise ValueError(f"Taille de secteur invalide : {size_m!r} (en mètres, > 0).")
    if "code" not in communes.columns:
        raise ValueError(
            "Les communes doivent avoir une colonne 'code' (code INSEE) : lisez-les avec "
            "observatoire.geo.territories.read_territory_file."
        )
    if communes.crs is None:
        raise ValueError("Les communes n'ont pas de système de coordonnées : utilisez set_crs().")
    crs = projected_crs(communes)
    projected = communes.to_crs(crs).sort_values("code", kind="stable")
    min_area = SLIVER_SHARE * size_m * size_m

    records: list[tuple[str, str, float, Any]] = []
    claimed = shapely.Polygon()
    for code, geom in zip(projected["code"], projected.geometry, strict=True):
        geom = _polygonal(shapely.make_valid(geom))
        # Overlapping communes (sloppy user files): each piece of ground goes to one commune.
        own = _polygonal(geom.difference(claimed)) if not claimed.is_empty else geom
        claimed = shapely.union(claimed, geom)
        if own.is_empty:
            continue
        pieces = _merge_slivers(_commune_cells(own, size_m), min_area)
        width = max(3, len(str(len(pieces))))
        for n, piece in enumerate(pieces, start=1):
            records.append((f"{prefix}{code}-{n:0{width}d}", str(code), piece.area, piece))

    sectors = gpd.GeoDataFrame(
        {
            "sector_code": [r[0] for r in records],
            "commune_code": [r[1] for r in records],
            "area_m2": np.round([r[2] for r in records], 1),
        },
        geometry=gpd.GeoSeries([r[3] for r in records], crs=crs),
    )
    return sectors.to_crs(4326)


def _points(points: Any) -> gpd.GeoSeries:
    if isinstance(points, gpd.GeoDataFrame):
        series = points.geometry
    elif isinstance(points, gpd.GeoSeries):
        series = points
    elif isinstance(points, pd.DataFrame):
        lon = next(
            (c for c in points.columns if c.lower() in ("lon", "longitude", "lng", "x")), None
        )
        lat = next((c for c in points.columns if c.lower() in ("lat", "latitude", "y")), None)
        if lon is None or lat is None:
            raise ValueError(
                "Colonnes longitude/latitude introuvables (attendu : lon/lat ou "
                f"longitude/latitude) parmi {list(points.columns)}."
            )
        series = gpd.GeoSeries(gpd.points_from_xy(points[lon], points[lat]), index=points.index)
    else:
        pairs = np.asarray(list(points) if isinstance(points, Iterable) else points, dtype=float)
        pairs = pairs.reshape(-1, 2)
        series = gpd.GeoSeries(gpd.points_from_xy(pairs[:, 0], pairs[:, 1]))
    if series.crs is None:
        series = series.set_crs(4326)
    return series


def assign_points_to_communes(points: Any, communes: gpd.GeoDataFrame) -> pd.Series:
    """INSEE code of the commune holding each point (``None`` outside every commune).

    ``points`` is a GeoDataFrame/GeoSeries, a DataFrame with lon/lat (or
    longitude/latitude) columns, or a sequence of ``(lon, lat)`` pairs in EPSG:4326. The
    result has the index of ``points``; a point on a shared border goes to the smaller code.
    """
    series = _points(points)
    frame = gpd.GeoDataFrame({"_row": np.arange(len(series))}, geometry=series.to_numpy())
    frame = frame.set_crs(series.crs)
    target = communes[["code", communes.geometry.name]].to_crs(series.crs)
    joined = gpd.sjoin(frame, target, how="left", predicate="intersects")
    joined = joined.sort_values(["_row", "code"], na_position="last")
    first = joined.drop_duplicates("_row").set_index("_row")["code"]
    codes = first.reindex(np.arange(len(series)))
    values = [c if isinstance(c, str) else None for c in codes.tolist()]
    return pd.Series(values, index=series.index, name="commune_code", dtype=object)
