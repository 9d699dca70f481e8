"""Write a synthetic sample as the partners send their files, plus the ground truth.

Partner files follow each partner's habits (Excel on Windows for the SI-SIAO extract, the
outreach log and the places' tallies of the night: cp1252 and CRLF line ends). Characters that
cp1252 cannot hold were already replaced by ``?`` in the frames, as Excel does, and recorded as
``encoding_replaced`` errors; writing replaces any that remain the same way. Nothing depends on
the clock: writing the same sample twice gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from observatoire.synthetic.generator import SyntheticSample


@dataclass(frozen=True)
class FileFormat:
    """How one file is written."""

    file_name: str
    encoding: str
    separator: str
    line_end: str = "\n"


FILE_FORMATS: dict[str, FileFormat] = {
    "si_siao": FileFormat("extraction_si_siao.csv", "cp1252", ";", "\r\n"),
    "appels_115": FileFormat("appels_115.csv", "utf-8-sig", ";", "\r\n"),
    "maraude": FileFormat("maraude.csv", "cp1252", ";", "\r\n"),
    "accueil_jour": FileFormat("accueil_jour.csv", "utf-8", ","),
    "decomptes_lieux": FileFormat("decomptes_lieux.csv", "cp1252", ";", "\r\n"),
    "verite_personnes": FileFormat("verite_personnes.csv", "utf-8", ","),
    "verite_partenaires": FileFormat("verite_partenaires.csv", "utf-8", ","),
    "erreurs_injectees": FileFormat("erreurs_injectees.csv", "utf-8", ","),
    "equipes": FileFormat("equipes.csv", "utf-8", ","),
    "rapports_secteurs": FileFormat("rapports_secteurs.csv", "utf-8", ","),
    "observations_nuit": FileFormat("observations_nuit.csv", "utf-8", ","),
}
"""File name, encoding, separator and line end of every file `write_sample` writes."""


def write_sample(
    sample: SyntheticSample, directory: str | Path, names: Iterable[str] | None = None
) -> dict[str, Path]:
    """Write the sample's files (those of ``names`` only, when given) into ``directory``
    (created if needed); return name -> path."""
    directory = Path(directory)
    frames: dict[str, pd.DataFrame] = {
        **sample.partner_files,
        "decomptes_lieux": sample.place_tallies,
        "verite_personnes": sample.people,
        "verite_partenaires": sample.partner_truth,
        "erreurs_injectees": sample.injected_errors,
        "equipes": sample.teams,
        "rapports_secteurs": sample.sector_reports,
        "observations_nuit": sample.observations,
    }
    unknown = sorted(set(frames) - set(FILE_FORMATS))
    if unknown:
        raise ValueError(
            f"Format de fichier inconnu : {', '.join(unknown)}. "
            f"Formats connus : {', '.join(FILE_FORMATS)}."
        )
    if names is not None:
        names = list(names)
        missing = sorted(set(names) - set(frames))
        if missing:
            raise ValueError(
                f"Fichier inconnu : {', '.join(missing)}. Fichiers connus : {', '.join(frames)}."
            )
        frames = {name: frames[name] for name in names}
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in frames.items():
        fmt = FILE_FORMATS[name]
        path = directory / fmt.file_name
        text = frame.to_csv(
            index=False, sep=fmt.separator, lineterminator=fmt.line_end, float_format="%.7f"
        )
        path.write_bytes(text.encode(fmt.encoding, errors="replace"))
        paths[name] = path
    return paths
