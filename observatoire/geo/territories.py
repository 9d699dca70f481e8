"""Territories: the reference territories shipped with the repository, and user files.

Every loader returns the same shape, a GeoDataFrame in EPSG:4326 with the columns
``code`` (INSEE code, text), ``nom``, ``population`` (int), ``commune_parent`` (code of the
whole city for an arrondissement municipal, else ``None``) and ``geometry`` (polygons), sorted
by code. ``gdf.attrs["warnings"]`` holds the *avertissements* met while reading (in French).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
import shapely
import yaml

from observatoire.model import (
    CodeCommuneError,
    Commune,
    ObservatoireError,
    Territory,
    TerritoryKind,
    valider_code_commune,
)

__all__ = [
    "ReferenceTerritory",
    "TerritoryDownloadError",
    "TerritoryFileError",
    "fetch_cartiflette",
    "list_reference_territories",
    "load_reference_territory",
    "read_territory_file",
    "reference_dir",
    "territory_model",
]

REFERENCE_DIR_ENV = "OBSERVATOIRE_REFERENCE_DIR"
REGISTRY_FILE = "territoires.yaml"
COLUMNS = ["code", "nom", "population", "commune_parent", "geometry"]
DEFAULT_CARTIFLETTE_YEAR = 2025

# Column names tried, in this order and ignoring case, when the caller names none.
CODE_COLUMNS = (
    "code_insee", "insee_com", "insee_cog", "codgeo", "code_commune", "codecommune",
    "code_com", "depcom", "insee", "com", "code", "cog",
)  # fmt: skip
NAME_COLUMNS = (
    "nom", "nom_commune", "nom_com", "libelle", "libgeo", "lib_com", "name", "ncc",
)  # fmt: skip
POPULATION_COLUMNS = (
    "population", "population_municipale", "pmun", "p_mun", "pop", "ptot",
)  # fmt: skip
PARENT_COLUMNS = ("commune_parent",)

# Arrondissements municipaux: (first, last, code of the whole city).
_ARRONDISSEMENTS = ((75101, 75120, "75056"), (69381, 69389, "69123"), (13201, 13216, "13055"))
_MAX_LISTED = 15


class TerritoryFileError(ObservatoireError):
    """A territory file that cannot be used: the message names the file, the fault, the fix."""


class TerritoryDownloadError(ObservatoireError):
    """Boundaries that could not be downloaded (missing package, no network)."""


@dataclass(frozen=True)
class ReferenceTerritory:
    """One entry of ``territoires.yaml``."""

    slug: str
    nom: str
    kind: str
    epci_code: str | None
    cog_year: int
    file: str
    source: str
    population_year: int | None = None


# --------------------------------------------------------------------------- reference


def reference_dir() -> Path:
    """Folder of the reference territories: ``$OBSERVATOIRE_REFERENCE_DIR`` if set, else
    ``data_samples/territoires`` of the repository holding the package."""
    override = os.environ.get(REFERENCE_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "data_samples" / "territoires"


def _registry() -> list[ReferenceTerritory]:
    path = reference_dir() / REGISTRY_FILE
    if not path.is_file():
        raise TerritoryFileError(
            f"Registre des territoires de référence introuvable : {path}. Lancez "
            "`python scripts/build_reference_territories.py` depuis le dépôt, ou indiquez "
            f"le dossier qui le contient dans la variable d'environnement {REFERENCE_DIR_ENV}."
        )
    from observatoire.messages_fr import read_utf8, yaml_error_fr

    try:
        data = yaml.safe_load(read_utf8(path, "Registre des territoires"))
        return [ReferenceTerritory(**entry) for entry in data["territoires"]]
    except (yaml.YAMLError, KeyError, TypeError, ObservatoireError) as exc:
        problem = yaml_error_fr(exc) if isinstance(exc, yaml.YAMLError) else (
            str(exc) if isinstance(exc, ObservatoireError) else "clé « territoires » absente "
            "ou entrée invalide")
        raise TerritoryFileError(
            f"Registre des territoires illisible : {path} ({problem}). Régénérez-le avec "
            "`python scripts/build_reference_territories.py`."
        ) from exc


def list_reference_territories() -> list[dict[str, Any]]:
    """The entries of ``territoires.yaml`` (slug, nom, kind, epci_code, cog_year, file...)."""
    return [asdict(entry) for entry in _registry()]


def load_reference_territory(slug: str) -> gpd.GeoDataFrame:
    """Load a reference territory by slug; its registry entry is in ``gdf.attrs["territory"]``.

    Raises `TerritoryFileError` listing the valid slugs when ``slug`` is unknown.
    """
    entries = {entry.slug: entry for entry in _registry()}
    if slug not in entries:
        raise TerritoryFileError(
            f"Territoire de référence inconnu : {slug!r}. Territoires disponibles : "
            f"{', '.join(sorted(entries))}."
        )
    entry = entries[slug]
    gdf = read_territory_file(
        reference_dir() / entry.file,
        code_column="code",
        name_column="nom",
        population_column="population",
    )
    gdf.attrs["territory"] = asdict(entry)
    return gdf


# --------------------------------------------------------------------------- user files


def read_territory_file(
    path: str | os.PathLike[str],
    *,
    code_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read communes from a GeoJSON, GeoPackage or Shapefile and check them.

    The INSEE code column is detected when not given (``code_insee``, ``INSEE_COM``,
    ``codgeo``, ``code``... ignoring case), read as text and validated; the result is
    reprojected to EPSG:4326 and invalid geometries are repaired. Raises
    `TerritoryFileError` (naming the file, the fault and the fix) on a missing, unreadable
    or empty file, unknown CRS, missing code column, invalid or duplicate codes, or
    non-polygon geometries. A missing population gives 0 and an *avertissement*.
    """
    path = Path(path)
    label = path.name
    if not path.exists():
        raise TerritoryFileError(
            f"Fichier de territoire introuvable : {path}. Vérifiez le chemin et le nom du "
            "fichier (GeoJSON, GeoPackage ou Shapefile)."
        )
    try:
        with warnings.catch_warnings():
            # A GeoPackage with several layers: the first one is read, we say so below.
            warnings.simplefilter("ignore", UserWarning)
            raw = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.FeatureError,
        OSError,
        ValueError,
    ) as exc:
        raise TerritoryFileError(
            f"Fichier de territoire illisible : {label} ({_first_line(exc)}). Le fichier est "
            "peut-être corrompu, incomplet ou d'un format non géré : exportez-le à nouveau "
            "en GeoJSON, GeoPackage ou Shapefile (avec tous ses fichiers .shp, .shx, .dbf, "
            ".prj) et vérifiez qu'il s'ouvre dans QGIS."
        ) from exc
    extra: list[str] = []
    if layer is None and path.suffix.lower() == ".gpkg":
        layers = pyogrio.list_layers(path)
        if len(layers) > 1:
            extra.append(
                f"{label} contient {len(layers)} couches ({', '.join(layers[:, 0])}) : la "
                f"première, {layers[0, 0]!r}, a été lue. Choisissez-en une autre avec `layer`."
            )
    gdf = _standardise(
        raw,
        label=label,
        code_column=code_column,
        name_column=name_column,
        population_column=population_column,
    )
    gdf.attrs["warnings"] = extra + gdf.attrs["warnings"]
    gdf.attrs["source_file"] = str(path)
    return gdf


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # GDAL appends driver hints in English that do not help here.
    return text.splitlines()[0].split("; It might help")[0].rstrip(".")


def _find_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    if wanted is not None:
        return wanted if wanted in columns else lowered.get(wanted.lower())
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _rows(positions: Iterable[int]) -> str:
    numbers = [str(p + 1) for p in positions]
    shown = ", ".join(numbers[:_MAX_LISTED])
    return shown + (
        f" (et {len(numbers) - _MAX_LISTED} autres)" if len(numbers) > _MAX_LISTED else ""
    )


def _code_text(value: Any) -> Any:
    """A cell of the code column as a validator input: numeric cells become ints."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return value


def _parent(code: str) -> str | None:
    if code.isdigit():
        number = int(code)
        for low, high, whole in _ARRONDISSEMENTS:
            if low <= number <= high:
                return whole
    return None


def _polygons_only(geom: Any) -> Any:
    """Polygonal part of a repaired geometry (make_valid may add stray lines or points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _standardise(
    raw: gpd.GeoDataFrame,
    *,
    label: str,
    code_column: str | None = None,
    name_column: str | None = None,
    population_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Check a GeoDataFrame of communes and bring it to the common shape (see module doc)."""
    notes: list[str] = []
    if len(raw) == 0:
        raise TerritoryFileError(
            f"Le fichier {label} ne contient aucune commune (aucune entité). Vérifiez la "
            "couche exportée ou choisissez-en une autre avec `layer`."
        )
    raw = raw.reset_index(drop=True)
    columns = [c for c in raw.columns if c != raw.geometry.name]

    code_col = _find_column(columns, code_column, CODE_COLUMNS)
    if code_col is None:
        what = (
            f"La colonne {code_column!r} est absente"
            if code_column
            else ("Aucune colonne de code commune INSEE n'a été trouvée")
        )
        raise TerritoryFileError(
            f"{what} dans {label}. Colonnes présentes : {', '.join(columns) or '(aucune)'}. "
            "Indiquez la colonne qui contient le code INSEE (5 caractères, par exemple "
            "21231) avec --code-column (code_column=...)."
        )

    # Geometry: present, polygonal, valid.
    missing = np.flatnonzero(raw.geometry.isna().to_numpy() | raw.geometry.is_empty.to_numpy())
    if len(missing):
        raise TerritoryFileError(
            f"{len(missing)} entité(s) sans géométrie dans {label} (entités n° "
            f"{_rows(missing)}). Chaque commune doit avoir son contour : complétez ou "
            "retirez ces entités."
        )
    kinds = raw.geometry.geom_type.to_numpy()
    wrong = np.flatnonzero(~np.isin(kinds, ["Polygon", "MultiPolygon"]))
    if len(wrong):
        found = ", ".join(sorted(set(kinds[wrong])))
        raise TerritoryFileError(
            f"Le fichier {label} contient des géométries qui ne sont pas des polygones "
            f"({found}, entités n° {_rows(wrong)}). Un territoire se décrit par les contours "
            "des communes (Polygon ou MultiPolygon), pas par des points ou des lignes."
        )

    # CRS: reproject, or refuse coordinates we cannot place.
    gdf = raw
    if gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
            gdf = gdf.set_crs(4326)
            notes.append(
                f"{label} n'indique pas son système de coordonnées : les coordonnées ont "
                "été lues comme des longitudes/latitudes (EPSG:4326)."
            )
        else:
            raise TerritoryFileError(
                f"Le fichier {label} n'indique pas son système de coordonnées (CRS) et ses "
                f"coordonnées (par exemple x={minx:.0f}, y={miny:.0f}) ne sont pas des "
                "longitudes/latitudes. Déclarez le CRS d'origine, par exemple Lambert-93 : "
                "`ogr2ogr -a_srs EPSG:2154 sortie.gpkg entree.shp`, ou en Python "
                "`gdf.set_crs(2154)`, ou ajoutez le fichier .prj du Shapefile."
            )
    elif not gdf.crs.equals("EPSG:4326"):
        notes.append(f"{label} a été reprojeté de {gdf.crs.to_string()} en EPSG:4326.")
        gdf = gdf.to_crs(4326)

    # Codes, validated one by one so that every bad row is reported at once.
    codes: list[str | None] = []
    errors: list[str] = []
    for position, value in enumerate(gdf[code_col].tolist()):
        try:
            codes.append(valider_code_commune(_code_text(value)))
        except CodeCommuneError as exc:
            codes.append(None)
            errors.append(f"entité n° {position + 1} : {exc}")
    if errors:
        listed = "\n  - ".join(errors[:_MAX_LISTED])
        more = f"\n  (et {len(errors) - _MAX_LISTED} autres)" if len(errors) > _MAX_LISTED else ""
        raise TerritoryFileError(
            f"{len(errors)} code(s) commune invalide(s) dans la colonne {code_col!r} de "
            f"{label} :\n  - {listed}{more}\nCorrigez ces codes INSEE (lisez la colonne "
            "comme du texte pour garder le zéro initial), ou indiquez la bonne colonne "
            "avec --code-column."
        )
    series = pd.Series(codes, dtype=object)
    duplicated = series[series.duplicated(keep=False)]
    if len(duplicated):
        details = "; ".join(
            f"{code} (entités n° {_rows(group.index)})"
            for code, group in duplicated.groupby(duplicated, sort=True)
        )
        raise TerritoryFileError(
            f"Codes commune en double dans {label} : {details}. Chaque commune doit "
            "apparaître une seule fois : fusionnez ses morceaux en une entité "
            "multipolygone (QGIS : « Regrouper » par code INSEE) ou retirez les doublons."
        )

    # Names and populations: optional, with an avertissement when absent.
    name_col = _find_column(columns, name_column, NAME_COLUMNS)
    if name_column is not None and name_col is None:
        raise TerritoryFileError(
            f"La colonne de nom {name_column!r} est absente de {label}. Colonnes présentes : "
            f"{', '.join(columns)}."
        )
    if name_col is None:
        names = list(codes)
        notes.append(f"{label} n'a pas de colonne de nom de commune : le code INSEE en tient lieu.")
    else:
        names = [
            str(v).strip() if pd.notna(v) else code
            for v, code in zip(gdf[name_col].tolist(), codes, strict=True)
        ]

    pop_col = _find_column(columns, population_column, POPULATION_COLUMNS)
    if population_column is not None and pop_col is None:
        raise TerritoryFileError(
            f"La colonne de population {population_column!r} est absente de {label}. "
            f"Colonnes présentes : {', '.join(columns)}."
        )
    if pop_col is None:
        populations = np.zeros(len(gdf), dtype="int64")
        notes.append(
            f"{label} n'a pas de colonne de population : population 0 pour chaque commune "
            "(indiquez-la avec --population-column pour calculer des taux)."
        )
    else:
        numbers = pd.to_numeric(gdf[pop_col], errors="coerce")
        bad = np.flatnonzero((numbers < 0).to_numpy())
        if len(bad):
            raise TerritoryFileError(
                f"Population négative dans la colonne {pop_col!r} de {label} (entités n° "
                f"{_rows(bad)}). Corrigez ces valeurs."
            )
        unknown = np.flatnonzero(numbers.isna().to_numpy())
        if len(unknown):
            notes.append(
                f"Population manquante ou non numérique dans {label} (entités n° "
                f"{_rows(unknown)}) : comptée 0."
            )
        populations = numbers.fillna(0).round().astype("int64").to_numpy()

    if any(c in PARENT_COLUMNS for c in columns):
        parents = [
            str(v) if pd.notna(v) and str(v) else _parent(code)
            for v, code in zip(gdf["commune_parent"].tolist(), codes, strict=True)
        ]
    else:
        parents = [_parent(code) for code in codes]
    both = sorted({p for p in parents if p} & set(codes))
    if both:
        notes.append(
            f"{label} contient à la fois la commune {', '.join(both)} et ses arrondissements "
            "municipaux : leurs contours se recouvrent. Gardez l'un ou l'autre."
        )

    geometry = gdf.geometry.copy()
    invalid = np.flatnonzero(~geometry.is_valid.to_numpy())
    if len(invalid):
        repaired = shapely.make_valid(geometry.iloc[invalid].to_numpy())
        geometry.iloc[invalid] = [_polygons_only(g) for g in repaired]
        notes.append(
            f"Géométries invalides réparées (make_valid) dans {label} : entités n° "
            f"{_rows(invalid)}."
        )

    result = gpd.GeoDataFrame(
        {
            "code": pd.Series(codes, dtype=object),
            "nom": pd.Series(names, dtype=object),
            "population": pd.Series(populations, dtype="int64"),
            "commune_parent": pd.Series(parents, dtype=object),
        },
        geometry=gpd.GeoSeries(geometry.to_numpy(), crs=4326),
    )
    result = result.sort_values("code", kind="stable").reset_index(drop=True)
    result.attrs["warnings"] = notes
    return result


# --------------------------------------------------------------------------- online


def fetch_cartiflette(
    codes: Iterable[str] | None = None,
    *,
    epci_code: str | None = None,
    year: int = DEFAULT_CARTIFLETTE_YEAR,
    arrondissements: bool = True,
    simplification: int | None = None,
) -> gpd.GeoDataFrame:
    """Download commune boundaries (IGN ADMIN EXPRESS COG CARTO) with cartiflette.

    Give the INSEE ``codes`` of the communes, or an ``epci_code`` (SIREN, 9 digits), or
    both (the intersection). With ``arrondissements`` (default) Paris, Lyon and Marseille
    come as their arrondissements municipaux. Needs the optional ``cartiflette`` package
    and the network; raises `TerritoryDownloadError` otherwise.
    """
    wanted = sorted({valider_code_commune(c) for c in codes}) if codes is not None else None
    if wanted is None and epci_code is None:
        raise ValueError("fetch_cartiflette : donnez des codes commune ou un code EPCI.")
    if epci_code is not None and not (len(epci_code) == 9 and epci_code.isdigit()):
        raise TerritoryDownloadError(
            f"Code EPCI invalide : {epci_code!r}. Un EPCI se désigne par son SIREN à 9 "
            "chiffres (Dijon Métropole : 242100410)."
        )
    try:
        cartiflette = importlib.import_module("cartiflette")
    except ImportError as exc:
        raise TerritoryDownloadError(
            "Le téléchargement des contours en ligne demande le paquet cartiflette : "
            "`pip install 'observatoire[cartiflette]'`. Sans réseau, utilisez un fichier "
            "de communes (read_territory_file) ou un territoire de référence."
        ) from exc

    borders = "COMMUNE_ARRONDISSEMENT" if arrondissements else "COMMUNE"
    if wanted is not None:
        departements = sorted({c[:3] if c.startswith("97") else c[:2] for c in wanted})
        request: dict[str, Any] = {"values": departements, "filter_by": "DEPARTEMENT"}
    else:
        # The consolidated GeoParquet is filtered while read: only the EPCI is downloaded.
        request = {
            "values": "France",
            "filter_by": "FRANCE_ENTIERE",
            "where": f"SIREN_EPCI = '{epci_code}'",
        }
    try:
        raw = cartiflette.carti_download(
            borders=borders, year=year, crs=4326, simplification=simplification, **request
        )
    except Exception as exc:
        # cartiflette reports a missing file or network as OSError, DuckDB as its own errors.
        if not isinstance(exc, OSError) and not type(exc).__module__.startswith("duckdb"):
            raise
        raise TerritoryDownloadError(
            f"Téléchargement des contours {year} impossible avec cartiflette "
            f"({_first_line(exc)}). Vérifiez la connexion à Internet (et la variable "
            "https_proxy derrière un proxy) et le millésime demandé, ou utilisez un fichier "
            "de communes (read_territory_file)."
        ) from exc
    return _from_cartiflette(raw, wanted, epci_code, year)


def _from_cartiflette(
    raw: gpd.GeoDataFrame, codes: list[str] | None, epci_code: str | None, year: int
) -> gpd.GeoDataFrame:
    """Shape a cartiflette answer (ADMIN EXPRESS columns) like the other loaders."""
    label = f"cartiflette {year}"
    upper = {c.upper(): c for c in raw.columns}
    code_col = next((upper[c] for c in ("INSEE_COG", "INSEE_ARM", "INSEE_COM") if c in upper), None)
    if code_col is None:
        raise TerritoryDownloadError(
            f"Réponse de cartiflette inattendue : pas de code INSEE parmi {list(raw.columns)}. "
            "Mettez à jour le paquet : `pip install -U cartiflette`."
        )
    selected = raw
    if epci_code is not None and "SIREN_EPCI" in upper:
        selected = selected[selected[upper["SIREN_EPCI"]].astype(str).str.contains(epci_code)]
    if codes is not None:
        as_text = selected[code_col].astype(str)
        keep = as_text.isin(codes) | as_text.map(_parent).isin(codes)
        selected = selected[keep]
        found = set(as_text[keep]) | {_parent(c) for c in as_text[keep]}
        absent = [c for c in codes if c not in found]
        if absent:
            raise TerritoryDownloadError(
                f"Communes absentes des contours cartiflette {year} : {', '.join(absent)}. "
                "Vérifiez les codes et le millésime du COG (une commune nouvelle change de "
                "code)."
            )
    if len(selected) == 0:
        raise TerritoryDownloadError(
            f"Aucune commune trouvée dans les contours cartiflette {year} pour l'EPCI "
            f"{epci_code}. Vérifiez le SIREN et le millésime."
        )
    gdf = _standardise(
        gpd.GeoDataFrame(selected.copy(), geometry=selected.geometry.name, crs=selected.crs),
        label=label,
        code_column=code_col,
        name_column=upper.get("NOM"),
        population_column=upper.get("POPULATION"),
    )
    gdf.attrs["source"] = f"IGN ADMIN EXPRESS COG CARTO {year} via cartiflette"
    return gdf


# --------------------------------------------------------------------------- model


def territory_model(
    gdf: gpd.GeoDataFrame,
    slug: str,
    name: str,
    kind: TerritoryKind | str,
    epci_code: str | None,
    cog_year: int,
) -> Territory:
    """Turn a standardised GeoDataFrame into a `Territory` (geometries as WKB, EPSG:4326)."""
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    communes = [
        Commune(
            code=code,
            name=nom,
            population=int(population),
            cog_year=cog_year,
            geometry_wkb=shapely.to_wkb(geom) if geom is not None else None,
        )
        for code, nom, population, geom in zip(
            gdf["code"], gdf["nom"], gdf["population"], gdf.geometry, strict=True
        )
    ]
    return Territory(
        slug=slug,
        name=name,
        kind=TerritoryKind(kind),
        epci_code=epci_code,
        cog_year=cog_year,
        communes=communes,
    )
