"""Generate a territory's homeless population, one count night and the partners' files.

Everything is drawn from ``numpy.random.default_rng(seed)``, ``random.Random(seed)`` and seeded
Faker instances, in a fixed order: the same seed and inputs give the same frames.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from observatoire.model import ContactSituation, Sex
from observatoire.synthetic.errors import ERROR_COLUMNS
from observatoire.synthetic.names import (
    NAME_GROUPS,
    NICKNAMES,
    ORIGINS,
    NamePool,
    build_name_pools,
    strip_accents,
)
from observatoire.synthetic.tallies import build_place_tallies, partner_places

STREET_PLACES = (
    "rue", "tente_campement", "voiture", "squat", "gare", "metro", "hopital", "parking",
    "hall_immeuble", "autre",
)  # fmt: skip
SHELTER_PLACES = ("hebergement_urgence", "hotel", "chez_un_tiers")
AGE_BANDS = ("moins de 18", "18-24", "25-34", "35-44", "45-54", "55-64", "65 et plus")
HOMELESS_DURATIONS = ("moins_3_mois", "3_12_mois", "1_5_ans", "plus_5_ans")
CALLS_115 = {"never": "jamais", "sometimes": "parfois", "often": "souvent"}
HOUSEHOLDS = ("alone", "couple", "with_children")

# Usual sleeping place: shares for people alone / in a couple, and for families.
_PLACE_SHARES_ALONE = (0.32, 0.08, 0.05, 0.06, 0.03, 0.01, 0.01, 0.02, 0.03, 0.02, 0.23, 0.06,
                       0.08)  # fmt: skip
_PLACE_SHARES_FAMILY = (0.08, 0.04, 0.04, 0.06, 0.01, 0.0, 0.0, 0.0, 0.01, 0.01, 0.30, 0.35,
                        0.10)  # fmt: skip
# Places volunteers do not enter: people there are met less often by street teams. (Those
# sleeping in stations, the metro, car parks or hospitals are counted by partners, and not met
# at all: see `observatoire.synthetic.tallies`.)
_HIDDEN_PLACES = {"squat", "metro", "parking", "hopital"}


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the generator, with documented defaults.

    Error rates are shares of the rows of each partner file that carry the column concerned
    (names: all files; birth dates: ``si_siao`` and ``accueil_jour``; swaps: files with both a
    last and a first name). Kinds that need a particular value (a compound name for
    ``hyphen_space``, a day up to 12 for ``day_month_swap``) stop at the rows that have one.
    """

    people_per_inhabitant: float = 0.008
    """People known over the year per inhabitant (about 2,000 for Dijon Métropole)."""
    inhabitants_per_team: int = 2500
    """Default number of teams: territory population / this, capped by the sector count."""
    met_probability: float = 0.85
    """Chance that a person sleeping in a walked sector is met (less in squats, car parks)."""
    border_duplicate_rate: float = 0.03
    """Share of people met who are seen again by the team of a neighbouring sector."""
    already_answered_rate: float = 0.04
    """Share of interviewed people met again later who say they already answered."""
    variant_rate: float = 0.10
    swap_names_rate: float = 0.04
    placeholder_birth_date_rate: float = 0.06
    day_month_swap_rate: float = 0.03
    missing_birth_date_rate: float = 0.08
    typo_rate: float = 0.05
    accents_rate: float = 0.05
    hyphen_space_rate: float = 0.03
    upper_case_rate: float = 0.08
    missing_value_rate: float = 0.04
    """Share of rows where the sex, commune or nationality is left empty."""
    partner_coverage: float = 0.95
    """Share of the people sleeping in a place partners count (station, car park, camp...)
    who are in the partner's tally of the night; the others are missed by everyone."""
    metro_min_population: int = 700_000
    """Territories this populous have a metro; elsewhere, people sleeping in public transport
    stations are in the tram and bus network's tally (``Autre``)."""

    def error_rates(self) -> dict[str, float]:
        """Rate of each error kind (see `observatoire.synthetic.errors.ERROR_KINDS`)."""
        return {
            f.name.removesuffix("_rate"): getattr(self, f.name)
            for f in fields(self)
            if f.name.endswith("_rate") and not f.name.startswith(("border", "already"))
        }


@dataclass
class SyntheticSample:
    """A synthetic territory: ground truth, one count night and the partners' files.

    ``people`` (ground truth, one row per person): ``person_id`` ("P000001"), ``first_name``,
    ``last_name``, ``nickname`` (street nickname or ""), ``sex`` (F/M), ``birth_date`` (date),
    ``age`` (years on the night), ``origin`` (see `ORIGINS`), ``nationality`` (French label),
    ``household`` (alone/couple/with_children), ``children_count``, ``with_animals``,
    ``commune_code``, ``sleeping_place`` (usual place: street places of the questionnaire or
    hebergement_urgence/hotel/chez_un_tiers), ``homeless_since`` (date), ``calls_115``
    (never/sometimes/often), ``in_street_on_night`` (bool), ``night_sector_code`` (sector where
    the person sleeps on the night, "" if sheltered or in a commune without sectors),
    ``met_on_night`` (bool), ``partner_place`` (kind of place counted by a partner where the
    person sleeps on the night, a ``decomptes_lieux`` code such as gare, parking, campement;
    "" if none: street teams do not meet these people), ``counted_by_partner`` (bool: in the
    partner's tally), ``siao_user_id`` (SI-SIAO number, "" if unknown to the SIAO).

    ``teams``: ``team_code`` (6 characters without 0/O/1/I/L), ``team_name`` ("Équipe 12"),
    ``size`` (3-5, leader included), ``sector_code``.

    ``sector_reports`` (one row per walked sector): ``sector_code``, ``team_code``, ``status``
    ("walked"), ``people_met`` (rows the team recorded, 0 occurs), ``reported_at`` (ISO).

    ``observations`` (one row per sighting): ``submission_uuid``, ``person_id`` (truth),
    ``sector_code``, ``team_code``, ``commune_code``, ``situation`` (`ContactSituation`
    values), ``sex`` (F/M or "" when not seen), ``age_band`` (`AGE_BANDS`; apparent age when
    only observed), ``birth_year`` (Int64, interviewed only, optional), ``initials`` (two
    letters, interviewed and consenting only, else ""), ``household``, ``children_count``
    (Int64), ``with_animals`` (boolean), ``sleeping_place`` (`STREET_PLACES`),
    ``homeless_duration`` (`HOMELESS_DURATIONS`), ``calls_115`` (jamais/parfois/souvent),
    ``resources`` (« aucune » or one or two sources, space-separated) and ``health_cover``
    (choices of `survey/ndls-2026.yaml`, "" for a few interviewed people), ``collected_at``
    (local ISO time between 22:00 and 01:00), ``latitude``, ``longitude`` (inside the sector),
    ``second_sighting`` (truth: True for the later row of a person seen twice, by a
    neighbouring team near the border or as ``already_answered``). Questionnaire fields are
    "" / NA for people only observed.

    ``partner_files``: name -> frame of strings, exactly as the partner's file holds it (see
    `observatoire.synthetic.partners`). ``place_tallies``: the partners' tallies of the places
    they counted on the night, numbers of people per place (see
    `observatoire.synthetic.tallies`). ``partner_truth``: ``file``, ``row_number`` (0-based
    data row), ``person_id``. ``injected_errors``: ``file``, ``row_number``, ``column``,
    ``kind``, ``original``, ``corrupted`` (a swap is recorded on column "Nom|Prénom").
    """

    people: pd.DataFrame
    teams: pd.DataFrame
    sector_reports: pd.DataFrame
    observations: pd.DataFrame
    partner_files: dict[str, pd.DataFrame]
    partner_truth: pd.DataFrame
    injected_errors: pd.DataFrame
    place_tallies: pd.DataFrame
    seed: int
    night_date: dt.date
    config: GeneratorConfig = field(default_factory=GeneratorConfig)


def default_n_people(communes: gpd.GeoDataFrame, config: GeneratorConfig | None = None) -> int:
    """People known over a year for the territory (about 2,000 for 254,000 inhabitants)."""
    config = config or GeneratorConfig()
    return max(20, round(int(communes["population"].sum()) * config.people_per_inhabitant))


def _check_inputs(communes: gpd.GeoDataFrame, sectors: gpd.GeoDataFrame) -> None:
    for frame, name, needed in (
        (communes, "communes", ("code", "nom", "population", "geometry")),
        (sectors, "sectors", ("sector_code", "commune_code", "geometry")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"Colonnes manquantes dans {name} : {', '.join(missing)}.")
        if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
            raise ValueError(f"{name} doit être en EPSG:4326 : utilisez `to_crs(4326)`.")
    if len(sectors) == 0:
        raise ValueError("Aucun secteur : découpez d'abord le territoire en secteurs.")


def _pick(rng: np.random.Generator, values: tuple | list, p, size: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    idx = rng.choice(len(values), size=size, p=p / p.sum())
    return np.array(values, dtype=object)[idx]


def _people(
    communes: gpd.GeoDataFrame,
    n: int,
    night: dt.date,
    rng: np.random.Generator,
    pools: list[NamePool],
) -> pd.DataFrame:
    origin_names = list(ORIGINS)
    origin = rng.choice(len(origin_names), size=n, p=np.array(list(ORIGINS.values())))
    household = rng.choice(3, size=n, p=[0.82, 0.10, 0.08])
    female = rng.random(n) < np.array([0.09, 0.45, 0.62])[household]

    # Age: bands then uniform inside; a few unaccompanied minors of 16-17.
    bounds = np.array([16, 18, 25, 35, 45, 55, 65, 80])
    band = rng.choice(7, size=n, p=[0.015, 0.12, 0.24, 0.24, 0.2, 0.12, 0.065])
    age_days = bounds[band] * 365.25 + rng.random(n) * (bounds[band + 1] - bounds[band]) * 365.25
    night64 = np.datetime64(night, "D")
    birth = night64 - age_days.astype("int64").astype("timedelta64[D]")
    household[band == 0] = 0

    children = np.where(household == 2, rng.choice([1, 2, 3, 4], size=n, p=[0.4, 0.3, 0.2, 0.1]), 0)
    place_alone = rng.choice(13, size=n, p=np.array(_PLACE_SHARES_ALONE) / sum(_PLACE_SHARES_ALONE))
    place_family = rng.choice(
        13, size=n, p=np.array(_PLACE_SHARES_FAMILY) / sum(_PLACE_SHARES_FAMILY)
    )
    place = np.where(household == 2, place_family, place_alone)
    in_street_usually = place < len(STREET_PLACES)
    with_animals = rng.random(n) < np.where(in_street_usually, 0.12, 0.03)

    # Time without a home: about 45% for more than a year.
    dur_kind = rng.choice(4, size=n, p=[0.2, 0.35, 0.3, 0.15])
    low = np.array([1, 90, 366, 5 * 365 + 1])[dur_kind]
    high = np.array([89, 365, 5 * 365, 15 * 365])[dur_kind]
    since = night64 - rng.integers(low, high + 1).astype("timedelta64[D]")
    calls = np.where(
        household == 2,
        rng.choice(3, size=n, p=[0.3, 0.4, 0.3]),
        rng.choice(3, size=n, p=[0.66, 0.22, 0.12]),
    )
    street_p = np.where(in_street_usually, 0.45, 0.02) * np.where(household == 2, 0.3, 1.0)
    in_street = rng.random(n) < street_p

    pop = communes["population"].to_numpy(dtype=float)
    commune_idx = rng.choice(len(communes), size=n, p=pop**1.15 / (pop**1.15).sum())

    # Names: name group inside the origin, then names from that group's pools.
    group = np.empty(n, dtype=np.int64)
    for o, name in enumerate(origin_names):
        rows = np.flatnonzero(origin == o)
        groups = [g for g, spec in enumerate(NAME_GROUPS) if spec[0] == name]
        shares = np.array([NAME_GROUPS[g][2] for g in groups])
        group[rows] = np.array(groups)[rng.choice(len(groups), size=len(rows), p=shares)]
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    nationality = np.empty(n, dtype=object)
    for g, pool in enumerate(pools):
        for is_f, firsts, wf, lasts, wl in (
            (False, pool.first_male, pool.w_first_male, pool.last_male, pool.w_last_male),
            (True, pool.first_female, pool.w_first_female, pool.last_female, pool.w_last_female),
        ):
            rows = np.flatnonzero((group == g) & (female == is_f))
            first[rows] = firsts[rng.choice(len(firsts), size=len(rows), p=wf)]
            last[rows] = lasts[rng.choice(len(lasts), size=len(rows), p=wl)]
        rows = np.flatnonzero(group == g)
        nats = NAME_GROUPS[g][3]
        nationality[rows] = np.array(nats, dtype=object)[rng.integers(0, len(nats), len(rows))]

    nickname = np.where(
        in_street_usually & (rng.random(n) < 0.25),
        np.array(NICKNAMES, dtype=object)[rng.integers(0, len(NICKNAMES), n)],
        "",
    )
    return pd.DataFrame(
        {
            "person_id": [f"P{i:06d}" for i in range(1, n + 1)],
            "first_name": first,
            "last_name": last,
            "nickname": nickname.astype(object),
            "sex": np.where(female, Sex.FEMALE.value, Sex.MALE.value).astype(object),
            "birth_date": pd.to_datetime(birth).date,
            "age": (age_days // 365.25).astype(int),
            "origin": np.array(origin_names, dtype=object)[origin],
            "nationality": nationality,
            "household": np.array(HOUSEHOLDS, dtype=object)[household],
            "children_count": children.astype(int),
            "with_animals": with_animals,
            "commune_code": communes["code"].astype(str).to_numpy(dtype=object)[commune_idx],
            "sleeping_place": np.array(STREET_PLACES + SHELTER_PLACES, dtype=object)[place],
            "homeless_since": pd.to_datetime(since).date,
            "calls_115": np.array(list(CALLS_115), dtype=object)[calls],
            "in_street_on_night": in_street,
        }
    )


def _random_points(
    geoms: np.ndarray, rng: np.random.Generator, max_rounds: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """One uniform point strictly inside each geometry (rejection sampling in the bounds)."""
    n = len(geoms)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    todo = np.arange(n)
    bounds = shapely.bounds(geoms)
    for _ in range(max_rounds):
        if len(todo) == 0:
            break
        b = bounds[todo]
        cx = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
        cy = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(geoms[todo], cx, cy)
        x[todo[ok]], y[todo[ok]] = cx[ok], cy[ok]
        todo = todo[~ok]
    if len(todo):  # thin slivers: fall back on a point guaranteed inside
        pts = shapely.point_on_surface(geoms[todo])
        x[todo], y[todo] = shapely.get_x(pts), shapely.get_y(pts)
    return x, y


def _team_codes(n: int, rng: np.random.Generator) -> list[str]:
    alphabet = np.array(list("ABCDEFGHJKMNPQRSTUVWXYZ23456789"))
    codes: list[str] = []
    seen: set[str] = set()
    while len(codes) < n:
        for row in alphabet[rng.integers(0, len(alphabet), size=(n, 6))]:
            code = "".join(row)
            if code not in seen:
                seen.add(code)
                codes.append(code)
                if len(codes) == n:
                    break
    return codes


def _uuid4s(n: int, rng: np.random.Generator) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    out = []
    for row in raw:
        h = row.tobytes().hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def _age_band(age: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(np.array([18, 25, 35, 45, 55, 65]), age, side="right")
    return np.array(AGE_BANDS, dtype=object)[idx]


def _night(
    people: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    sectors: gpd.GeoDataFrame,
    night: dt.date,
    n_teams: int,
    config: GeneratorConfig,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Walked sectors, teams, observations, reports; returns also each person's night
    sector index (-1 if none), whether they were met and their partner place ("" if none)."""
    sectors = sectors.reset_index(drop=True)
    geoms = sectors.geometry.to_numpy()
    ns = len(sectors)
    sector_commune = sectors["commune_code"].astype(str).to_numpy()
    codes = communes["code"].astype(str).to_numpy()
    # Plain shapely on lon/lat: only relative sizes and distances inside the territory matter.
    com_geoms = communes.geometry.to_numpy()
    density = dict(
        zip(
            codes,
            communes["population"].to_numpy(float) / np.maximum(shapely.area(com_geoms), 1e-9),
            strict=True,
        )
    )
    com_centroid = dict(zip(codes, shapely.centroid(com_geoms), strict=True))
    com_scale = dict(zip(codes, np.sqrt(shapely.area(com_geoms)) / 3, strict=True))
    centroids = shapely.centroid(geoms)
    dist = np.array(
        [
            shapely.distance(c, com_centroid[k]) / max(com_scale[k], 1e-9)
            if k in com_centroid
            else 3.0
            for c, k in zip(centroids, sector_commune, strict=True)
        ]
    )
    dens = np.array([density.get(k, 0.0) for k in sector_commune])
    dens = dens / dens.max() if dens.max() > 0 else np.ones(ns)
    # People gather in the centre and around a few hot spots (stations, shops, squares).
    attract = np.exp(-dist) * rng.lognormal(0.0, 1.2, ns)
    walk_weight = attract * (0.2 + dens)
    walked = np.sort(rng.choice(ns, size=n_teams, replace=False, p=walk_weight / walk_weight.sum()))
    is_walked = np.zeros(ns, dtype=bool)
    is_walked[walked] = True

    # Where each person sleeps on the night: a sector of their commune, by attractiveness.
    n = len(people)
    order = np.argsort(sector_commune, kind="stable")
    sorted_communes = sector_commune[order]
    uniq, starts = np.unique(sorted_communes, return_index=True)
    com_rank = np.searchsorted(uniq, sorted_communes)
    w = attract[order]
    totals = np.add.reduceat(w, starts)
    cum = np.cumsum(w) - np.repeat(np.cumsum(totals) - totals, np.diff(np.append(starts, ns)))
    key = com_rank + cum / np.repeat(totals, np.diff(np.append(starts, ns)))
    key[np.append(starts[1:] - 1, ns - 1)] = np.arange(len(uniq)) + 1.0  # exact right ends
    person_commune = people["commune_code"].to_numpy().astype(str)
    pos = np.searchsorted(uniq, person_commune)
    pos_c = np.minimum(pos, len(uniq) - 1)
    has_sector = (pos < len(uniq)) & (uniq[pos_c] == person_commune)
    u = rng.random(n)
    sidx = order[np.minimum(np.searchsorted(key, pos_c + u, side="left"), ns - 1)]
    in_street = people["in_street_on_night"].to_numpy()
    night_sector = np.where(in_street & has_sector, sidx, -1)

    usual = people["sleeping_place"].to_numpy()
    street_set = set(STREET_PLACES)
    night_place = np.array([p if p in street_set else "rue" for p in usual], dtype=object)
    met_p = config.met_probability * np.where(np.isin(night_place, list(_HIDDEN_PLACES)), 0.4, 1)
    met_draw = rng.random(n)
    has_metro = int(communes["population"].sum()) >= config.metro_min_population
    partner_place = partner_places(night_place, in_street, has_metro, rng)
    met = (
        (night_sector >= 0)
        & is_walked[np.maximum(night_sector, 0)]
        & (met_draw < met_p)
        & (partner_place == "")
    )

    # Teams, one per walked sector.
    team_codes = _team_codes(n_teams, rng)
    team_of_sector = np.full(ns, "", dtype=object)
    team_of_sector[walked] = team_codes
    teams = pd.DataFrame(
        {
            "team_code": team_codes,
            "team_name": [f"Équipe {i}" for i in range(1, n_teams + 1)],
            "size": rng.integers(3, 6, n_teams),
            "sector_code": sectors["sector_code"].astype(str).to_numpy()[walked],
        }
    )

    # Walked neighbours, for sightings near a border.
    tree = shapely.STRtree(geoms[walked])
    a, b = tree.query(geoms[walked], predicate="intersects")
    keep = a != b
    neighbours: dict[int, list[int]] = {}
    for i, j in zip(walked[a[keep]], walked[b[keep]], strict=True):
        neighbours.setdefault(int(i), []).append(int(j))

    # First sightings.
    met_idx = np.flatnonzero(met)
    m = len(met_idx)
    situations = np.array(
        [
            ContactSituation.INTERVIEWED.value,
            ContactSituation.REFUSED.value,
            ContactSituation.ASLEEP.value,
            ContactSituation.NOT_APPROACHABLE.value,
        ],
        dtype=object,
    )
    situation = situations[rng.choice(4, size=m, p=[0.64, 0.13, 0.13, 0.10])]
    minutes = rng.random(m) * 165.0  # 22:00 to 00:45, room for a later sighting
    sector_of = night_sector[met_idx]

    # Second sightings: border doubles, then "already answered" encounters.
    has_nb = np.array([int(s) in neighbours for s in sector_of], dtype=bool)
    border = has_nb & (rng.random(m) < config.border_duplicate_rate)
    interviewed = situation == ContactSituation.INTERVIEWED.value
    again = interviewed & ~border & (rng.random(m) < config.already_answered_rate)
    second_rows = np.flatnonzero(border | again)
    second_sector = np.empty(len(second_rows), dtype=np.int64)
    for k, r in enumerate(second_rows):
        s = int(sector_of[r])
        options = neighbours.get(s) or [int(x) for x in walked if x != s] or [s]
        second_sector[k] = options[int(rng.integers(0, len(options)))]
    second_situation = np.where(
        border[second_rows],
        situations[rng.choice(4, size=len(second_rows), p=[0.4, 0.2, 0.3, 0.1])],
        ContactSituation.ALREADY_ANSWERED.value,
    )
    second_minutes = minutes[second_rows] + np.where(
        border[second_rows],
        2 + rng.random(len(second_rows)) * 10,
        10 + rng.random(len(second_rows)) * (180 - 10 - minutes[second_rows]),
    )
    second_minutes = np.minimum(second_minutes, 180.0)

    person_rows = np.concatenate([met_idx, met_idx[second_rows]])
    obs_sector = np.concatenate([sector_of, second_sector])
    obs_situation = np.concatenate([situation, second_situation])
    obs_minutes = np.concatenate([minutes, second_minutes])
    second = np.concatenate([np.zeros(m, bool), np.ones(len(second_rows), bool)])
    k = len(person_rows)

    # Points: inside the sector; near the shared border for doubles.
    area_geoms = geoms[obs_sector].copy()
    border_pairs = np.flatnonzero(border[second_rows])
    for j in border_pairs:
        first_row, second_row = second_rows[j], m + j
        sa, sb = int(sector_of[first_row]), int(second_sector[j])
        width = 0.15 * math.sqrt(max(shapely.area(geoms[sa]), 1e-12))
        near_a = shapely.intersection(geoms[sa], shapely.buffer(geoms[sb], width))
        near_b = shapely.intersection(geoms[sb], shapely.buffer(geoms[sa], width))
        if near_a.area > 0 and near_b.area > 0:
            area_geoms[first_row] = near_a
            area_geoms[second_row] = near_b
    lon, lat = _random_points(area_geoms, rng)

    p = people.iloc[person_rows]
    age = p["age"].to_numpy()
    interviewed_o = obs_situation == ContactSituation.INTERVIEWED.value
    observed_only = ~interviewed_o
    apparent = np.clip(age + rng.normal(0, 6, k), 14, 90)
    sex = p["sex"].to_numpy(dtype=object).copy()
    sex[observed_only & (rng.random(k) < 0.08)] = ""
    birth_year = pd.array([d.year for d in p["birth_date"]], dtype="Int64")
    birth_year[~(interviewed_o & (rng.random(k) < 0.85))] = pd.NA
    firsts = p["first_name"].to_numpy(dtype=object)
    lasts = p["last_name"].to_numpy(dtype=object)
    consent = interviewed_o & (rng.random(k) < 0.45)
    initials = np.array(
        [
            strip_accents(f[0] + ln[0]).upper() if c else ""
            for f, ln, c in zip(firsts, lasts, consent, strict=True)
        ],
        dtype=object,
    )
    since = pd.to_datetime(p["homeless_since"]).to_numpy()
    days = (np.datetime64(night, "D") - since.astype("datetime64[D]")).astype(int)
    duration = np.array(HOMELESS_DURATIONS, dtype=object)[
        np.searchsorted(np.array([90, 366, 5 * 365 + 1]), days, side="right")
    ]
    empty = np.full(k, "", dtype=object)
    children = pd.array(p["children_count"].to_numpy(), dtype="Int64")
    children[observed_only] = pd.NA
    tz = ZoneInfo("Europe/Paris")
    start = dt.datetime.combine(night, dt.time(22, 0), tzinfo=tz)
    seconds = np.round(obs_minutes * 60).astype(int)
    collected = [(start + dt.timedelta(seconds=int(s))).isoformat() for s in seconds]
    sector_codes = sectors["sector_code"].astype(str).to_numpy(dtype=object)
    obs = pd.DataFrame(
        {
            "submission_uuid": _uuid4s(k, rng),
            "person_id": p["person_id"].to_numpy(dtype=object),
            "sector_code": sector_codes[obs_sector],
            "team_code": team_of_sector[obs_sector],
            "commune_code": sector_commune.astype(object)[obs_sector],
            "situation": obs_situation,
            "sex": sex,
            "age_band": np.where(interviewed_o, _age_band(age), _age_band(apparent)),
            "birth_year": birth_year,
            "initials": initials,
            "household": np.where(interviewed_o, p["household"].to_numpy(dtype=object), empty),
            "children_count": children,
            "with_animals": pd.array(p["with_animals"].to_numpy(), dtype="boolean"),
            "sleeping_place": night_place[person_rows],
            "homeless_duration": np.where(interviewed_o, duration, empty),
            "calls_115": np.where(
                interviewed_o, p["calls_115"].map(CALLS_115).to_numpy(dtype=object), empty
            ),
            "collected_at": collected,
            "latitude": np.round(lat, 7),
            "longitude": np.round(lon, 7),
            "second_sighting": second,
        }
    )
    # Rounding may push a point onto the edge: keep only points still strictly inside.
    inside = shapely.contains_xy(geoms[obs_sector], obs["longitude"], obs["latitude"])
    if not inside.all():
        bad = np.flatnonzero(~inside)
        px, py = _random_points(geoms[obs_sector[bad]], rng)
        obs.loc[bad, "longitude"], obs.loc[bad, "latitude"] = px, py
    obs = obs.sort_values(["collected_at", "submission_uuid"], kind="stable").reset_index(drop=True)

    counts = obs["team_code"].value_counts()
    last_seen = obs.groupby("team_code")["collected_at"].max()
    reported = []
    for code in team_codes:
        if code in last_seen.index:
            base = dt.datetime.fromisoformat(last_seen[code])
        else:
            base = start + dt.timedelta(minutes=150)
        reported.append((base + dt.timedelta(minutes=int(rng.integers(5, 46)))).isoformat())
    reports = pd.DataFrame(
        {
            "sector_code": teams["sector_code"],
            "team_code": teams["team_code"],
            "status": "walked",
            "people_met": [int(counts.get(c, 0)) for c in team_codes],
            "reported_at": reported,
        }
    )
    return teams, reports, obs, night_sector, met, partner_place


# The count night's answers on rights (`survey/ndls-2026.yaml`, lists ``resources`` and
# ``health_cover``): choice -> share of the interviewed people. About a quarter of the
# people met in the street say they have no resources and a fifth no health cover.
_NO_RESOURCES_SHARE = 0.27
_RESOURCES = {"travail": 0.12, "rsa": 0.36, "aah": 0.09, "chomage": 0.08, "retraite": 0.05,
              "mendicite": 0.24, "autre": 0.06}  # fmt: skip
_HEALTH_COVER = {"aucune": 0.21, "securite_sociale": 0.38, "css": 0.22, "ame": 0.11,
                 "ne_sait_pas": 0.08}  # fmt: skip
_RIGHTS_UNANSWERED = 0.06  # interviewed people who leave one of these questions blank


def _rights_answers(
    rng: np.random.Generator, people: pd.DataFrame, obs: pd.DataFrame
) -> dict[str, np.ndarray]:
    """``resources`` (« aucune », or one or two sources separated by a space, as ODK writes
    a multiple choice) and ``health_cover`` of each observation: drawn once per person, so
    that a person interviewed twice answers the same; "" unless interviewed, and "" for a
    few who did not answer."""
    n = len(people)
    sources = np.array(list(_RESOURCES), dtype=object)
    p = np.array(list(_RESOURCES.values()))
    first = rng.choice(len(sources), size=n, p=p / p.sum())
    second = rng.choice(len(sources), size=n, p=p / p.sum())
    both = (rng.random(n) < 0.3) & (second != first)
    resources = np.where(both, sources[np.minimum(first, second)] + " "
                         + sources[np.maximum(first, second)], sources[first])
    resources[rng.random(n) < _NO_RESOURCES_SHARE] = "aucune"
    resources[rng.random(n) < _RIGHTS_UNANSWERED] = ""
    health = _pick(rng, list(_HEALTH_COVER), list(_HEALTH_COVER.values()), n)
    health[rng.random(n) < _RIGHTS_UNANSWERED] = ""
    row = pd.Index(people["person_id"]).get_indexer(obs["person_id"])
    interviewed = (obs["situation"] == ContactSituation.INTERVIEWED.value).to_numpy()
    return {"resources": np.where(interviewed, resources[row], "").astype(object),
            "health_cover": np.where(interviewed, health[row], "").astype(object)}


def generate_sample(
    communes: gpd.GeoDataFrame,
    sectors: gpd.GeoDataFrame,
    *,
    seed: int = 2026,
    n_people: int | None = None,
    night_date: dt.date = dt.date(2026, 1, 29),
    n_teams: int | None = None,
    config: GeneratorConfig | None = None,
    campaign_name: str | None = None,
) -> SyntheticSample:
    """Generate a synthetic homeless population of the territory, its count night and the
    partners' files with realistic errors (see `SyntheticSample` for every column).

    ``n_people`` is the number of people known over the year (default: `default_n_people`);
    ``n_teams`` the number of walked sectors, one team each (default: population /
    ``config.inhabitants_per_team``, at most the number of sectors). ``campaign_name`` is
    the "Campagne" column of the partners' tallies (default: "Nuit de la Solidarité YYYY").
    """
    from observatoire.synthetic.partners import build_partner_files

    config = config or GeneratorConfig()
    _check_inputs(communes, sectors)
    communes = communes.reset_index(drop=True)
    if n_people is None:
        n_people = default_n_people(communes, config)
    if n_teams is None:
        n_teams = math.ceil(int(communes["population"].sum()) / config.inhabitants_per_team)
    n_teams = max(1, min(int(n_teams), len(sectors)))
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    pools = build_name_pools(seed)
    people = _people(communes, int(n_people), night_date, rng, pools)
    teams, reports, obs, night_sector, met, partner_place = _night(
        people, communes, sectors, night_date, n_teams, config, rng
    )
    sector_codes = sectors.reset_index(drop=True)["sector_code"].astype(str).to_numpy(object)
    people["night_sector_code"] = np.where(
        night_sector >= 0, sector_codes[np.maximum(night_sector, 0)], ""
    )
    people["met_on_night"] = met
    people["partner_place"] = partner_place
    files, truth, errors, siao_ids = build_partner_files(
        people, communes, night_date, config, rng, rnd
    )
    tallies, counted = build_place_tallies(
        people,
        communes,
        night_date,
        campaign_name or f"Nuit de la Solidarité {night_date.year}",
        config.partner_coverage,
        rng,
    )
    people["counted_by_partner"] = counted
    people["siao_user_id"] = siao_ids
    # The rights answers, drawn from a child generator spawned after the partners' one:
    # every draw above, hence every file and benchmark, stays as it was.
    for column, values in _rights_answers(rng.spawn(1)[0], people, obs).items():
        obs[column] = values
    return SyntheticSample(
        people=people,
        teams=teams,
        sector_reports=reports,
        observations=obs,
        partner_files=files,
        partner_truth=truth,
        injected_errors=pd.DataFrame(errors, columns=list(ERROR_COLUMNS)),
        place_tallies=tallies,
        seed=seed,
        night_date=night_date,
        config=config,
    )
