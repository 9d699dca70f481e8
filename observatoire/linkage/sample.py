"""The synthetic sample in the records interchange format, with its ground truth.

Turns a `observatoire.synthetic.SyntheticSample` (count night + partner files with French
headers) into one frame of `RECORD_COLUMNS` plus ``person_id`` (the truth), for tests and
benchmarks. Only synthetic people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatoire.linkage.records import RECORD_COLUMNS
from observatoire.names import clean_letters

_SEX = {"homme": "M", "h": "M", "m": "M", "femme": "F", "f": "F"}


def _sex(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.lower().map(_SEX).fillna("")


def _dates(values: pd.Series, fmt: str) -> pd.Series:
    parsed = pd.to_datetime(values.astype(str).str.strip(), format=fmt, errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").fillna("")


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(str).replace({"nan": "", "<NA>": ""})
    return pd.Series("", index=frame.index)


def _midpoint(band: str) -> str:
    parts = [p for p in str(band).replace("+", "-").split("-") if p.strip().isdigit()]
    if not parts:
        return ""
    low = int(parts[0])
    high = int(parts[1]) if len(parts) > 1 else low + 10
    return str((low + high) / 2)


def sample_records(sample, communes: pd.DataFrame) -> pd.DataFrame:
    """Records (interchange columns, strings) of the count night and every partner file,
    with the truth in ``person_id``."""
    names = {clean_letters(n): c for n, c in zip(communes["nom"], communes["code"], strict=True)}

    def commune(values: pd.Series) -> pd.Series:
        return values.astype(str).map(lambda v: names.get(clean_letters(v), "")).fillna("")

    truth = sample.partner_truth.set_index(["file", "row_number"])["person_id"]
    frames = []
    obs = sample.observations
    night = pd.DataFrame({
        "record_id": "nuit:" + obs["submission_uuid"].astype(str),
        "source": "nuit",
        "initials": _col(obs, "initials"),
        "birth_year": _col(obs, "birth_year"),
        "age": np.where(_col(obs, "birth_year") == "", obs["age_band"].map(_midpoint), ""),
        "sex": _sex(_col(obs, "sex")),
        "commune_code": _col(obs, "commune_code"),
        "latitude": _col(obs, "latitude"),
        "longitude": _col(obs, "longitude"),
        "observed_at": _col(obs, "collected_at"),
        "person_id": obs["person_id"].astype(str),
    })
    frames.append(night)
    layouts = {
        # file: (last, first, birth date column and format, age, date column and format)
        "si_siao": ("Nom", "Prénom", ("Date de naissance", "%d/%m/%Y"), None,
                    ("Date de la demande", "%d/%m/%Y")),
        "appels_115": ("Nom", "Prénom", None, "Âge", ("Date et heure", "%d/%m/%Y %H:%M")),
        "maraude": (None, "Prénom ou surnom", None, "Âge estimé", ("Date", "%d/%m/%Y")),
        "accueil_jour": ("Nom", "Prénom", ("Date de naissance", "%Y-%m-%d"), None,
                         ("Date d'inscription", "%Y-%m-%d")),
    }
    for name, frame in sample.partner_files.items():
        last, first, birth, age, seen = layouts.get(name, ("Nom", "Prénom", None, None, None))
        rows = np.arange(len(frame))
        observed = pd.to_datetime(_col(frame, seen[0]), format=seen[1], errors="coerce") if seen \
            else pd.Series(pd.NaT, index=frame.index)
        records = pd.DataFrame({
            "record_id": [f"{name}:{r}" for r in rows],
            "source": name,
            "first_name": _col(frame, first),
            "last_name": _col(frame, last) if last else "",
            "birth_date": _dates(_col(frame, birth[0]), birth[1]) if birth else "",
            "age": _col(frame, age) if age else "",
            "sex": _sex(_col(frame, "Sexe")),
            "commune_code": commune(_col(frame, "Commune")),
            "observed_at": observed.dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("").to_numpy(),
            "person_id": [truth.get((name, int(r)), "") for r in rows],
        })
        frames.append(records)
    out = pd.concat(frames, ignore_index=True)
    for column in (*RECORD_COLUMNS, "person_id"):
        if column not in out.columns:
            out[column] = ""
    return out[[*RECORD_COLUMNS, "person_id"]].fillna("").astype(str)


def build_sample_records(
    territory: str = "dijon-metropole", seed: int = 2026, n_people: int | None = None
) -> pd.DataFrame:
    """Generate a synthetic sample on a reference territory and return `sample_records`."""
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample

    communes = load_reference_territory(territory)
    sectors = generate_grid_sectors(communes, 1000)
    sample = generate_sample(communes, sectors, seed=seed, n_people=n_people)
    return sample_records(sample, communes)
