"""Places counted by partners on the count night, and the tallies they send.

On the night, volunteers walk the streets; stations, the metro, hospitals, car parks, social
landlords' common areas and camps in parks, on embankments or in woods are counted by the
partners who run or watch them, who send numbers of people per place (format
``decomptes_lieux``), never people. In the ground truth, the people sleeping in such a place
are the ones the partners count (`partner_places`); the street teams do not meet them, so
that the *a minima* total (street + partners) counts nobody twice.

``place_tallies`` frame (strings, as a partner's Excel export holds them, one row per place):
"Campagne", "Date de la nuit" (JJ/MM/AAAA), "Partenaire", "Type de lieu" (a label of the
format: Gare, Métro, Hôpital, Parking, Bailleur social, Campement, Parc, Berges, Bois,
Autre), "Lieu", "Commune" (commune name), "Nombre de personnes" (0 for a station or a
hospital visited where nobody slept).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

TALLY_COLUMNS = ("Campagne", "Date de la nuit", "Partenaire", "Type de lieu", "Lieu", "Commune",
                 "Nombre de personnes")  # fmt: skip

# Kinds of the ``decomptes_lieux`` format, in the order of the file: label in the file,
# partner, place name ("{i}": number of the place in the commune), people per place at most.
_KINDS: dict[str, tuple[str, str, str, int]] = {
    "gare": ("Gare", "SNCF Gares & Connexions", "Gare, zone {i}", 15),
    "metro": ("Métro", "Exploitant du métro", "Stations de métro, ligne {i}", 8),
    "hopital": ("Hôpital", "Centre hospitalier", "Urgences, site {i}", 8),
    "parking": ("Parking", "Exploitant de parkings", "Parking souterrain n°{i}", 5),
    "bailleur_social": ("Bailleur social", "Office public de l'habitat",
                        "Parties communes, résidence {i}", 4),
    "campement": ("Campement", "Préfecture, mission campements", "Campement n°{i}", 12),
    "parc": ("Parc", "Service municipal des espaces verts", "Parc n°{i}", 6),
    "berges": ("Berges", "Service municipal des espaces verts", "Berges, secteur {i}", 8),
    "bois": ("Bois", "Office national des forêts", "Bois, parcelle {i}", 10),
    "autre": ("Autre", "Réseau de transport urbain", "Stations de tramway et de bus, ligne {i}",
              8),
}  # fmt: skip

# Usual sleeping places of the ground truth that partners count, and the share of the people
# there who are in a partner's place (the others sleep in a private building's hall, or in a
# tent on the pavement, where the street teams meet them).
_COUNTED_PLACES = {"gare": ("gare", 1.0), "metro": ("metro", 1.0), "hopital": ("hopital", 1.0),
                   "parking": ("parking", 1.0), "hall_immeuble": ("bailleur_social", 0.8),
                   "tente_campement": ("campement", 0.6)}  # fmt: skip
# Where the partners' tents are: camps, parks, embankments, woods.
_CAMP_KINDS = ("campement", "parc", "berges", "bois")
_CAMP_SHARES = (0.4, 0.3, 0.15, 0.15)
# Stations and hospitals report their count, 0 included, in communes this large.
_REPORTING_POPULATION = 30_000


def partner_places(
    night_place: np.ndarray, in_street: np.ndarray, has_metro: bool, rng: np.random.Generator
) -> np.ndarray:
    """Kind of partner place (a ``decomptes_lieux`` code) where each person sleeps on the
    night, "" when not in one. Without a metro, people sleeping in public transport stations
    are in the tram and bus network's tally (``autre``)."""
    n = len(night_place)
    kind = np.full(n, "", dtype=object)
    u = rng.random(n)
    camp = np.array(_CAMP_KINDS, dtype=object)[
        rng.choice(len(_CAMP_KINDS), size=n, p=np.array(_CAMP_SHARES))
    ]
    for place, (code, share) in _COUNTED_PLACES.items():
        there = in_street & (night_place == place) & (u < share)
        if code == "metro" and not has_metro:
            code = "autre"
        kind[there] = camp[there] if code == "campement" else code
    return kind


def build_place_tallies(
    people: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    night: dt.date,
    campaign: str,
    coverage: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The partners' tallies of the night from the ground truth (``partner_place``,
    ``commune_code``), and whether each person is in a tally: a partner counts each person
    of its places with probability ``coverage`` (the others are missed by everyone)."""
    place = people["partner_place"].to_numpy(dtype=object)
    counted = (place != "") & (rng.random(len(people)) < coverage)
    names = dict(zip(communes["code"].astype(str), communes["nom"].astype(str), strict=True))
    population = dict(zip(communes["code"].astype(str), communes["population"], strict=True))
    commune_of = people["commune_code"].to_numpy(dtype=object)
    per_place = (
        pd.DataFrame({"kind": place[counted], "commune": commune_of[counted]})
        .value_counts()
        .to_dict()
    )
    reporting = sorted(code for code, pop in population.items() if pop >= _REPORTING_POPULATION)
    for code in reporting:
        for kind in ("gare", "hopital"):
            per_place.setdefault((kind, code), 0)
    date_text = night.strftime("%d/%m/%Y")
    rows = []
    for kind, (label, partner, place_name, capacity) in _KINDS.items():
        for code in sorted(c for k, c in per_place if k == kind):
            total = int(per_place[(kind, code)])
            n_places = max(1, -(-total // capacity))
            counts = rng.multinomial(total, np.full(n_places, 1 / n_places))
            commune = names.get(code, code)
            for i, count in enumerate(counts, start=1):
                name = f"{place_name.format(i=i)} ({commune})"
                rows.append((campaign, date_text, partner, label, name, commune,
                             str(int(count))))  # fmt: skip
    return pd.DataFrame(rows, columns=list(TALLY_COLUMNS), dtype=object), counted
