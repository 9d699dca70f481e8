"""The files partners send, built from the ground truth, then corrupted realistically.

Every partner frame holds strings only ("" for an empty cell), exactly as written in the file:

``si_siao`` (SI-SIAO extract, one row per request, several per person, dates JJ/MM/AAAA):
"N° demande", "N° usager SI-SIAO" (a few people have two accounts), "Nom", "Prénom",
"Date de naissance", "Sexe" (Homme/Femme), "Composition familiale", "Nombre d'enfants",
"Commune" (commune name), "Date de la demande", "Type de demande" (Urgence/Insertion),
"Orientation", "Statut", "Date d'orientation", and the optional columns the conventions'
indicators read: "Situation avant", "Date de sortie" (emergency stays that ended),
"Sortie d'institution", "Victime de violences" (Oui/Non).

``appels_115`` (115 call log, one row per call, frequent callers, many "Pas de place" /
"Sans solution"; often the first name only, the age as declared): "N° appel",
"Date et heure" (JJ/MM/AAAA HH:MM), "Prénom", "Nom", "Âge", "Sexe" (H/F), "Composition",
"Nombre d'enfants", "Commune", "Motif", "Réponse", "Victime de violences" (women: Oui/Non).

``maraude`` (outreach log, first name or street nickname, estimated age): "Date", "Structure",
"Prénom ou surnom", "Âge estimé", "Sexe" (H/F), "Lieu", "Commune", "Chien" (oui/"").

``accueil_jour`` (day-centre register, one row per registration, a few people registered
twice, ISO dates AAAA-MM-JJ): "Nom", "Prénom", "Date de naissance", "Sexe" (M/F),
"Nationalité", "Date d'inscription", "Domiciliation" (oui/non), "Nombre de passages",
"Dernier passage".
"""

from __future__ import annotations

import datetime as dt
import random

import geopandas as gpd
import numpy as np
import pandas as pd

from observatoire.synthetic.errors import FileLayout, inject_errors, replace_unencodable

FILE_LAYOUTS: dict[str, FileLayout] = {
    "si_siao": FileLayout(
        ("Nom", "Prénom"), "Date de naissance", "%d/%m/%Y", ("Sexe", "Commune"), ("Nom", "Prénom")
    ),
    "appels_115": FileLayout(("Prénom", "Nom"), None, "", ("Sexe", "Commune"), ("Nom", "Prénom")),
    "maraude": FileLayout(("Prénom ou surnom",), None, "", ("Sexe", "Commune"), None),
    "accueil_jour": FileLayout(
        ("Nom", "Prénom"),
        "Date de naissance",
        "%Y-%m-%d",
        ("Sexe", "Nationalité"),
        ("Nom", "Prénom"),
    ),
}
"""Columns each kind of error may touch, per partner file."""

FILE_ENCODINGS = {"si_siao": "cp1252", "appels_115": "utf-8", "maraude": "cp1252",
                  "accueil_jour": "utf-8"}  # fmt: skip

_PLACE_LABELS = {
    "rue": "Rue", "tente_campement": "Tente / campement", "voiture": "Voiture",
    "squat": "Squat", "gare": "Gare", "metro": "Métro", "hopital": "Hôpital",
    "parking": "Parking", "hall_immeuble": "Hall d'immeuble", "autre": "Autre",
}  # fmt: skip


def _fmt_dates(values: np.ndarray, fmt: str) -> np.ndarray:
    """Format datetime64 values (NaT -> "") by formatting each distinct value once."""
    values = np.asarray(values).astype("datetime64[m]")
    uniq, inv = np.unique(values, return_inverse=True)
    text = np.array(
        ["" if np.isnat(u) else pd.Timestamp(u).strftime(fmt) for u in uniq], dtype=object
    )
    return text[inv.ravel()]


def _explode(counts: np.ndarray) -> np.ndarray:
    """Row index of the person for each of their ``counts`` records."""
    return np.repeat(np.arange(len(counts)), counts)


def _pick(rng: np.random.Generator, values, p, size: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.array(values, dtype=object)[rng.choice(len(values), size=size, p=p / p.sum())]


def _year_dates(rng: np.random.Generator, night: dt.date, size: int) -> np.ndarray:
    return np.datetime64(night, "D") - rng.integers(1, 366, size).astype("timedelta64[D]")


# Where a person who usually sleeps in a shelter place lived before a SI-SIAO request, as
# the extraction writes it (codes: `observatoire.model.PriorSituation`, through the format).
_SHELTER_BEFORE = {"hebergement_urgence": "Hébergement d'urgence", "hotel": "Hôtel",
                   "chez_un_tiers": "Hébergé chez un tiers"}  # fmt: skip
_INSTITUTIONS = ["Prison", "Hôpital", "Aide sociale à l'enfance"]
MEAN_EMERGENCY_STAY_DAYS = 120


def _siao_optional_columns(
    rng: np.random.Generator, place: np.ndarray, orientation: np.ndarray,
    oriented_on: np.ndarray, night: dt.date, violence: np.ndarray,
) -> dict[str, np.ndarray]:
    """« Situation avant », « Date de sortie », « Sortie d'institution » and « Victime de
    violences » of each SI-SIAO request (``place``: its person's usual sleeping place)."""
    r = len(place)
    leaving = rng.random(r) < 0.06
    institution = np.where(leaving, _pick(rng, _INSTITUTIONS, [0.4, 0.4, 0.2], r), "Non")
    before = np.array([_SHELTER_BEFORE.get(p, "Rue") for p in place], dtype=object)
    # Some of the sheltered were on the street at the time of the request, and vice versa.
    moved = rng.random(r) < 0.15
    before = np.where(moved & (before == "Rue"), "Hébergement d'urgence",
                      np.where(moved, "Rue", before))
    before = np.where(leaving, "Sortie d'institution", before)
    stay = np.ceil(rng.exponential(MEAN_EMERGENCY_STAY_DAYS, r)).astype("timedelta64[D]")
    ended = oriented_on + stay
    shelter = (orientation == "Hébergement d'urgence") & ~np.isnat(oriented_on)
    exit_on = np.where(shelter & (ended <= np.datetime64(night, "D")), ended,
                       np.datetime64("NaT"))
    return {
        "Situation avant": before.astype(object),
        "Date de sortie": _fmt_dates(exit_on.astype("datetime64[D]"), "%d/%m/%Y"),
        "Sortie d'institution": institution.astype(object),
        "Victime de violences": np.where(violence, "Oui", "Non").astype(object),
    }


def build_partner_files(
    people: pd.DataFrame,
    communes: gpd.GeoDataFrame,
    night: dt.date,
    config,
    rng: np.random.Generator,
    rnd: random.Random,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[tuple], np.ndarray]:
    """Build, corrupt and encode the partner files.

    Returns the files, the truth table (file, row_number, person_id), the injected errors and
    each person's SI-SIAO user number ("" when unknown to the SIAO).
    """
    n = len(people)
    commune_name = dict(zip(communes["code"].astype(str), communes["nom"].astype(str), strict=True))
    pid = people["person_id"].to_numpy(dtype=object)
    first = people["first_name"].to_numpy(dtype=object)
    last = people["last_name"].to_numpy(dtype=object)
    female = (people["sex"] == "F").to_numpy()
    birth = pd.to_datetime(people["birth_date"]).to_numpy().astype("datetime64[D]")
    age = people["age"].to_numpy()
    household = people["household"].to_numpy(dtype=object)
    children = people["children_count"].to_numpy()
    com = people["commune_code"].map(commune_name).to_numpy(dtype=object)
    calls = people["calls_115"].to_numpy(dtype=object)
    place = people["sleeping_place"].to_numpy(dtype=object)
    street = np.isin(place, list(_PLACE_LABELS))
    family = household == "with_children"
    frames: dict[str, pd.DataFrame] = {}
    owners: dict[str, np.ndarray] = {}

    # SI-SIAO: requests through the 115 or a social worker.
    p_siao = np.where(calls == "never", 0.3, 0.9)
    p_siao = np.where(family, 0.95, p_siao)
    in_siao = rng.random(n) < p_siao
    lam = np.select([calls == "often", calls == "sometimes"], [3.0, 1.5], 0.5)
    n_req = np.where(in_siao, 1 + rng.poisson(lam), 0)
    user_ids = np.array(
        [f"{x:07d}" for x in rng.permutation(9_000_000)[:n] + 1_000_000], dtype=object
    )
    siao_ids = np.where(in_siao, user_ids, "")
    second_ids = np.array([f"{x:07d}" for x in rng.integers(1_000_000, 9_999_999, n)], dtype=object)
    two_accounts = rng.random(n) < 0.03
    rows = _explode(n_req)
    r = len(rows)
    req_date = _year_dates(rng, night, r)
    order = np.lexsort((rows, req_date))
    rows, req_date = rows[order], req_date[order]
    urgence = rng.random(r) < 0.7
    outcome_u = _pick(rng, ["Hébergement d'urgence", "Hôtel", "Sans solution",
                            "Refus de la personne"], [0.35, 0.1, 0.45, 0.1], r)  # fmt: skip
    outcome_i = _pick(
        rng,
        ["CHRS", "Pension de famille", "Logement adapté (IML)", "Logement social", "En attente"],
        [0.3, 0.1, 0.15, 0.1, 0.35],
        r,
    )
    orientation = np.where(urgence, outcome_u, outcome_i)
    status = np.select(
        [orientation == "Sans solution", orientation == "En attente",
         orientation == "Refus de la personne"],
        ["Sans solution", "En attente", "Refusée"],
        "Orientée",
    ).astype(object)  # fmt: skip
    oriented_on = np.where(
        status == "Orientée",
        req_date + rng.integers(0, 31, r).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    composition = np.select(
        [household == "alone", household == "couple", female & family],
        ["Personne seule", "Couple sans enfant", "Personne seule avec enfant(s)"],
        "Couple avec enfant(s)",
    ).astype(object)
    ids = np.where(two_accounts[rows] & (rng.random(r) < 0.5), second_ids[rows], siao_ids[rows])
    frames["si_siao"] = pd.DataFrame(
        {
            "N° demande": [f"DEM-{night.year - 1}-{i:06d}" for i in range(1, r + 1)],
            "N° usager SI-SIAO": ids,
            "Nom": last[rows],
            "Prénom": first[rows],
            "Date de naissance": _fmt_dates(birth[rows], "%d/%m/%Y"),
            "Sexe": np.where(female[rows], "Femme", "Homme").astype(object),
            "Composition familiale": composition[rows],
            "Nombre d'enfants": children[rows].astype(str).astype(object),
            "Commune": com[rows],
            "Date de la demande": _fmt_dates(req_date, "%d/%m/%Y"),
            "Type de demande": np.where(urgence, "Urgence", "Insertion").astype(object),
            "Orientation": orientation,
            "Statut": status,
            "Date d'orientation": _fmt_dates(oriented_on, "%d/%m/%Y"),
        }
    )
    owners["si_siao"] = rows
    # The optional columns the conventions' indicators read, drawn from a child generator:
    # the draws above and below, hence every file and linkage benchmark, stay as they were.
    extra = rng.spawn(1)[0]
    violence = female & (extra.random(n) < 0.2)  # per person: the SIAO and the 115 agree
    for column, values in _siao_optional_columns(
            extra, place[rows], orientation, oriented_on, night, violence[rows]).items():
        frames["si_siao"][column] = values

    # 115 calls: a few frequent callers make most of the calls.
    n_calls = np.select(
        [calls == "often", calls == "sometimes"],
        [np.exp(rng.normal(3.0, 0.6, n)).astype(int) + 5, 1 + rng.poisson(3, n)],
        0,
    )
    rows = _explode(n_calls)
    r = len(rows)
    when = _year_dates(rng, night, r).astype("datetime64[m]") + rng.integers(
        8 * 60, 24 * 60, r
    ).astype("timedelta64[m]")
    order = np.lexsort((rows, when))
    rows, when = rows[order], when[order]
    motive = _pick(rng, ["Demande d'hébergement", "Information", "Besoin alimentaire", "Soins"],
                   [0.8, 0.1, 0.06, 0.04], r)  # fmt: skip
    answer = np.where(
        motive == "Demande d'hébergement",
        _pick(rng, ["Pas de place", "Sans solution", "Hébergé(e)",
                    "Orienté(e) vers un accueil de jour"], [0.4, 0.2, 0.35, 0.05], r),
        "Information donnée",
    ).astype(object)  # fmt: skip
    declared_age = np.clip(age[rows] + np.round(rng.normal(0, 1.5, r)).astype(int), 15, 95)
    frames["appels_115"] = pd.DataFrame(
        {
            "N° appel": [f"{i:07d}" for i in range(1, r + 1)],
            "Date et heure": _fmt_dates(when.astype("datetime64[D]"), "%d/%m/%Y")
            + " "
            + _fmt_dates(
                np.datetime64("2000-01-01T00:00") + (when - when.astype("datetime64[D]")), "%H:%M"
            ),  # fmt: skip
            "Prénom": first[rows],
            "Nom": np.where(rng.random(r) < 0.4, "", last[rows]).astype(object),
            "Âge": np.where(rng.random(r) < 0.15, "", declared_age.astype(str)).astype(object),
            "Sexe": np.where(female[rows], "F", "H").astype(object),
            "Composition": np.select(
                [household[rows] == "alone", household[rows] == "couple"],
                ["Isolé(e)", "Couple"],
                "Famille",
            ).astype(object),  # fmt: skip
            "Nombre d'enfants": children[rows].astype(str).astype(object),
            "Commune": com[rows],
            "Motif": motive,
            "Réponse": answer,
        }
    )
    owners["appels_115"] = rows
    frames["appels_115"]["Victime de violences"] = np.where(
        female[rows], np.where(violence[rows], "Oui", "Non"), "").astype(object)

    # Outreach: people sleeping outside, met several times in the year.
    n_contacts = np.where(street, 1 + rng.poisson(2.5, n), (rng.random(n) < 0.1).astype(int))
    rows = _explode(n_contacts)
    r = len(rows)
    day = _year_dates(rng, night, r)
    order = np.lexsort((rows, day))
    rows, day = rows[order], day[order]
    nick = people["nickname"].to_numpy(dtype=object)
    use_nick = (nick[rows] != "") & (rng.random(r) < 0.6)
    est = np.clip(np.round((age[rows] + rng.normal(0, 5, r)) / 5) * 5, 15, 90).astype(int)
    place_label = np.array([_PLACE_LABELS.get(p, "Rue") for p in place], dtype=object)
    frames["maraude"] = pd.DataFrame(
        {
            "Date": _fmt_dates(day, "%d/%m/%Y"),
            "Structure": _pick(
                rng,
                ["Croix-Rouge française", "Samu social", "Secours catholique", "Équipe mobile psy"],
                [0.4, 0.3, 0.2, 0.1],
                r,
            ),  # fmt: skip
            "Prénom ou surnom": np.where(use_nick, nick[rows], first[rows]).astype(object),
            "Âge estimé": est.astype(str).astype(object),
            "Sexe": np.where(female[rows], "F", "H").astype(object),
            "Lieu": place_label[rows],
            "Commune": com[rows],
            "Chien": np.where(people["with_animals"].to_numpy()[rows], "oui", "").astype(object),
        }
    )
    owners["maraude"] = rows

    # Day centre register: one registration, a few people registered twice.
    registered = rng.random(n) < np.where(street, 0.5, 0.3)
    n_reg = registered.astype(int) + (registered & (rng.random(n) < 0.05))
    rows = _explode(n_reg)
    r = len(rows)
    reg_date = _year_dates(rng, night, r)
    visits = 1 + rng.poisson(12, r)
    last_visit = np.minimum(
        reg_date + rng.integers(0, 365, r).astype("timedelta64[D]"), np.datetime64(night, "D")
    )
    order = np.lexsort((rows, reg_date))
    rows, reg_date, visits, last_visit = (
        rows[order],
        reg_date[order],
        visits[order],
        last_visit[order],
    )
    frames["accueil_jour"] = pd.DataFrame(
        {
            "Nom": last[rows],
            "Prénom": first[rows],
            "Date de naissance": _fmt_dates(birth[rows], "%Y-%m-%d"),
            "Sexe": np.where(female[rows], "F", "M").astype(object),
            "Nationalité": people["nationality"].to_numpy(dtype=object)[rows],
            "Date d'inscription": _fmt_dates(reg_date, "%Y-%m-%d"),
            "Domiciliation": np.where(rng.random(r) < 0.6, "oui", "non").astype(object),
            "Nombre de passages": visits.astype(str).astype(object),
            "Dernier passage": _fmt_dates(last_visit, "%Y-%m-%d"),
        }
    )
    owners["accueil_jour"] = rows

    rates = config.error_rates()
    errors: list[tuple] = []
    truth_parts = []
    for name, frame in frames.items():
        frame, recs = inject_errors(name, frame, FILE_LAYOUTS[name], rates, rng, rnd)
        errors += recs
        if FILE_ENCODINGS[name] != "utf-8":
            frame, recs = replace_unencodable(name, frame, FILE_ENCODINGS[name])
            errors += recs
        frames[name] = frame
        truth_parts.append(
            pd.DataFrame(
                {
                    "file": name,
                    "row_number": np.arange(len(frame)),
                    "person_id": pid[owners[name]],
                }
            )
        )
    truth = pd.concat(truth_parts, ignore_index=True)
    return frames, truth, errors, siao_ids
