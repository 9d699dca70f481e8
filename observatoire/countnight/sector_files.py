"""The sector polygons a coordinator uploads for a new night (GeoJSON or GeoPackage)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd

from observatoire.model import ObservatoireError


def read_sector_file(path_or_buffer: Any, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sector polygons from a GeoJSON/GeoPackage (``sector_code`` column optional).

    Each sector is given the commune that holds its representative point when the file has
    no ``commune_code``; codes are generated when it has no ``sector_code``.
    """
    from observatoire.geo.sectors import assign_points_to_communes

    try:
        sectors = gpd.read_file(path_or_buffer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise ObservatoireError(
            f"Fichier de secteurs illisible ({exc}). Fournissez un GeoJSON ou un GeoPackage "
            "de polygones."
        ) from exc
    if sectors.empty:
        raise ObservatoireError("Le fichier de secteurs ne contient aucun polygone.")
    if sectors.crs is None:
        sectors = sectors.set_crs(4326)
    sectors = sectors.to_crs(4326)
    if not sectors.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise ObservatoireError("Les secteurs doivent être des polygones.")
    if "commune_code" not in sectors:
        points = sectors.geometry.representative_point()
        sectors["commune_code"] = assign_points_to_communes(
            gpd.GeoSeries(points, crs=4326), communes
        ).to_numpy()
        outside = sectors["commune_code"].isna()
        if outside.any():
            raise ObservatoireError(
                f"{int(outside.sum())} secteur(s) hors du territoire : vérifiez le système de "
                "coordonnées du fichier."
            )
    if "sector_code" not in sectors:
        sectors["sector_code"] = [
            f"S{c}-{n:03d}" for n, c in enumerate(sectors["commune_code"], start=1)
        ]
    if sectors["sector_code"].duplicated().any():
        dup = sorted(set(sectors.loc[sectors["sector_code"].duplicated(), "sector_code"]))
        raise ObservatoireError(f"Codes de secteur en double : {', '.join(map(str, dup[:10]))}.")
    return sectors[["sector_code", "commune_code", "geometry"]]
