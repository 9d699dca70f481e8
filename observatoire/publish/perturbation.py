"""Cell-key perturbation (the ONS method), an option on top of the default threshold and
secondary suppression.

Each person (a record: a count-night observation, one person of a partner's tally) gets a
*record key*, a number from 0 to 255 derived from a stable identifier with a keyed hash, so
it is the same in every table and every year. A cell's *cell key* is the sum of its
records' keys modulo 256; the noise added to the cell is read in a *p-table* at (cell
count, cell key). The same people in a cell always get the same noise, whichever table the
cell is in, and the difference of two tables is noise, not a person.

The tabulation is the ONS's own code (``cell-key-perturbation`` on PyPI, 3.x, optional
extra ``pip install 'observatoire[perturbation]'``): its ``create_perturbed_table`` groups
microdata, sums the record keys, reads the p-table and drops counts under the threshold.
ONS keep their production p-table private and ship only a "10-5" rounding table whose noise
does not depend on the cell key; `make_ptable` builds a p-table of random-looking but fixed,
zero-mean noise in ``[-max_noise, max_noise]`` for each count (the parameters are printed
in the methodology, `method_note`).

`perturb_night` is what `observatoire.publish.report.build_publication` applies when the
rules ask for it (``observatoire nuit publish ID --perturbation``): street people are keyed
by their submission's uuid; the people of a partner's tally, who have no identifier, by
(night, kind of place, commune, rank), stable from one table to the next for a night.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatoire.model import ObservatoireError

KEY_RANGE = 256


@dataclass(frozen=True)
class PerturbationSettings:
    max_noise: int = 2
    """Largest noise added to or taken from a published count."""
    threshold: int = 11
    max_pcv: int = 750
    """Counts above are read on the p-table rows 501-750 again (the ONS package's rule)."""
    seed: int = 2026
    """Seed of the p-table: fixed, so the same cell is perturbed the same way every time."""


def record_keys(identifiers: Iterable[str], secret: bytes) -> np.ndarray:
    """A record key in ``[0, 255]`` per identifier (HMAC-SHA256 with ``secret``): stable for
    a person, unpredictable without the key."""
    return np.array([hmac.new(secret, str(i).encode("utf-8"), hashlib.sha256).digest()[0]
                     for i in identifiers], dtype="int64")  # fmt: skip


def make_ptable(settings: PerturbationSettings = PerturbationSettings()) -> pd.DataFrame:  # noqa: B008
    """A p-table (``pcv``, ``ckey``, ``pvalue``): for each count, the 256 cell keys share the
    noises ``-max_noise..max_noise`` (zero mean: each noise and its opposite as often), in an
    order fixed by ``seed``; a noise never makes a count negative."""
    rng = np.random.default_rng(settings.seed)
    noises = np.arange(-settings.max_noise, settings.max_noise + 1)
    # Triangular weights: small noises more often than large ones.
    weights = settings.max_noise + 1 - np.abs(noises)
    rows = []
    for pcv in range(1, settings.max_pcv + 1):
        per_key = np.repeat(noises, np.round(weights / weights.sum() * KEY_RANGE).astype(int))
        per_key = np.resize(np.concatenate([per_key, np.zeros(KEY_RANGE, dtype=int)]),
                            KEY_RANGE)  # fmt: skip
        per_key = rng.permutation(per_key)
        per_key = np.maximum(per_key, -pcv)
        rows.append(pd.DataFrame({"pcv": pcv, "ckey": np.arange(KEY_RANGE), "pvalue": per_key}))
    return pd.concat(rows, ignore_index=True)


def _package():
    try:
        from cell_key_perturbation.create_perturbed_table import create_perturbed_table
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ObservatoireError(
            "La perturbation par clé de cellule demande le paquet de l'ONS : "
            "pip install 'observatoire[perturbation]' (cell-key-perturbation)."
        ) from exc
    return create_perturbed_table


def perturbed_counts(
    records: pd.DataFrame, by: list[str], ptable: pd.DataFrame,
    settings: PerturbationSettings = PerturbationSettings(),  # noqa: B008
) -> pd.DataFrame:
    """The counts of ``records`` (one row per person, a ``record_key`` column) grouped by
    ``by``, perturbed: columns ``by``, ``pre_sdc_count``, ``ckey``, ``pvalue``, ``count``
    (``<NA>`` under the threshold)."""
    import contextlib
    import io

    create_perturbed_table = _package()
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints its checks
        table = create_perturbed_table(
            data=records, ptable=ptable, geog=[], tab_vars=list(by), record_key="record_key",
            use_existing_ons_id=False, threshold=settings.threshold,
        )  # fmt: skip
    return table


def method_note(settings: PerturbationSettings = PerturbationSettings()) -> str:  # noqa: B008
    """The method and its parameters, for the methodology section."""
    return (
        "Perturbation par clé de cellule (méthode de l'ONS, paquet cell-key-perturbation) : "
        f"chaque personne reçoit une clé de 0 à {KEY_RANGE - 1} tirée d'un hachage à clé "
        f"secrète ; la clé d'une case est la somme des clés de ses personnes modulo "
        f"{KEY_RANGE} ; un bruit de -{settings.max_noise} à +{settings.max_noise}, de moyenne "
        f"nulle, lu dans une table de perturbation fixe (graine {settings.seed}), est ajouté à "
        "chaque case ; les mêmes personnes reçoivent le même bruit dans tous les tableaux. "
        f"Les cases de moins de {settings.threshold} personnes restent secrètes."
    )


def perturb_night(
    communes: pd.DataFrame, places: pd.DataFrame, street_records: pd.DataFrame | None,
    place_tallies: pd.DataFrame, campaign_id: int, key: bytes | None, threshold: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The commune table (``code``, ``personnes``...) and the place table (``libelle``,
    ``personnes``) of a night with cell-key-perturbed counts (before the threshold and the
    secondary suppression, which still apply)."""
    from observatoire.indicators.count import PLACE_KINDS, STREET_LABEL

    if street_records is None or key is None:
        raise ObservatoireError(
            "Perturbation demandée sans les enregistrements de la nuit ou sans clé : "
            "indiquez la clé secrète (--key-file ou OBSERVATOIRE_SECRET_KEY_FILE)."
        )
    rows = [(str(r.commune_code), STREET_LABEL, str(r.record_id))
            for r in street_records.itertuples(index=False)]  # fmt: skip
    for t in place_tallies.itertuples(index=False):
        commune = "" if pd.isna(t.commune_code) else str(t.commune_code)
        kind = PLACE_KINDS.get(t.place_kind, t.place_kind)
        rows += [(commune, kind, f"lieu:{campaign_id}:{t.place_kind}:{commune}:{i}")
                 for i in range(int(t.people))]  # fmt: skip
    micro = pd.DataFrame(rows, columns=["commune", "lieu", "id"])
    micro["record_key"] = record_keys(micro["id"], key)
    settings = PerturbationSettings(threshold=threshold)
    ptable = make_ptable(settings)

    def noisy(by: str) -> pd.Series:
        if micro.empty:
            return pd.Series(dtype="int64")
        table = perturbed_counts(micro, [by], ptable, settings).set_index(by)
        return (table["pre_sdc_count"] + table["pvalue"]).clip(lower=0).astype("int64")

    communes = communes.copy()
    by_commune = noisy("commune")
    communes["personnes"] = communes["code"].astype(str).map(by_commune).fillna(0).astype(int)
    places = places.copy()
    places["personnes"] = places["libelle"].map(noisy("lieu")).fillna(0).astype(int)
    return communes, places
