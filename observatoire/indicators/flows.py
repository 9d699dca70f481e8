"""By-name-list flows, month by month (the Built for Zero way).

Input ``contacts``: ``person_id`` (linkage cluster), ``date`` (any contact with a partner or
on the count night). Input ``housing`` (optional): ``person_id``, ``date`` of a move to
housing (social housing, IML, pension de famille...).

At the end of each month a person known so far is *housed* when their last move to housing
is on or after their last contact, *active* when their last contact is at most
``inactivity_days`` old, *inactive* otherwise. Then, month by month:

- inflow = newly identified + returned from housing + returned from inactivity;
- outflow = moved to housing + became inactive;
- active(t) = active(t-1) + inflow - outflow (column ``ecart`` shows it holds).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# Partners see most people every few weeks, not every month: 90 days without contact before
# someone is called inactive keeps a missed monthly visit from showing as an exit. The Built
# for Zero default (and the domain notes) say 30 days for daily street outreach data.
DEFAULT_INACTIVITY_DAYS = 90
# The thresholds the dashboard offers (its flows are computed in advance for each).
INACTIVITY_CHOICES = (30, 60, 90, 180)

FLOW_COLUMNS = [
    "mois", "en_contact", "actifs_debut", "nouvelles", "retours_logement", "retours_inactivite",
    "entrees",
    "relogees", "inactives", "sorties", "actifs", "ecart",
]  # fmt: skip
FLOW_LABELS = {
    "mois": "Mois",
    "en_contact": "Personnes en contact dans le mois",
    "actifs_debut": "Actifs en début de mois",
    "nouvelles": "Nouvellement identifiées",
    "retours_logement": "Retours après un logement",
    "retours_inactivite": "Retours après inactivité",
    "entrees": "Entrées",
    "relogees": "Relogées",
    "inactives": "Devenues inactives",
    "sorties": "Sorties",
    "actifs": "Actifs en fin de mois",
    "ecart": "Contrôle (doit valoir 0)",
}

_NEVER = np.iinfo(np.int64).min // 2


def _days(values: pd.Series) -> np.ndarray:
    dates = pd.to_datetime(values, errors="coerce")
    return dates.to_numpy("datetime64[D]").astype("int64")


def monthly_flows(
    contacts: pd.DataFrame,
    housing: pd.DataFrame | None = None,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    inactivity_days: int = DEFAULT_INACTIVITY_DAYS,
) -> pd.DataFrame:
    """One row per month from ``start`` to ``end`` (default: the months of the contacts),
    columns `FLOW_COLUMNS`. Vectorised: 300,000 contacts take well under a second."""
    if contacts.empty:
        return pd.DataFrame(columns=FLOW_COLUMNS)
    contacts = contacts.dropna(subset=["person_id", "date"])
    housing = (
        housing.dropna(subset=["person_id", "date"])
        if housing is not None and not housing.empty
        else pd.DataFrame({"person_id": [], "date": []})
    )
    dates = pd.to_datetime(contacts["date"])
    first = pd.Period(start, "M") if start else dates.min().to_period("M")
    last = pd.Period(end, "M") if end else dates.max().to_period("M")
    months = pd.period_range(first, last, freq="M")
    # Grid of month ends, with the month before ``first`` as the baseline.
    grid = pd.period_range(first - 1, last, freq="M")
    ends = np.array([p.end_time.normalize().to_datetime64() for p in grid]).astype(
        "datetime64[D]").astype("int64")  # fmt: skip

    ids = pd.concat([contacts["person_id"], housing["person_id"]], ignore_index=True).astype(str)
    codes, uniques = pd.factorize(ids)
    n_contacts = len(contacts)
    last_contact = _last_by_month(codes[:n_contacts], _days(contacts["date"]), ends,
                                  len(uniques))  # fmt: skip
    last_housed = _last_by_month(codes[n_contacts:], _days(housing["date"]), ends, len(uniques))

    seen = last_contact > _NEVER
    housed = seen & (last_housed >= last_contact)
    active = seen & ~housed & ((ends[None, :] - last_contact) <= inactivity_days)
    inactive = seen & ~housed & ~active

    # People with a contact in each month: a month without any (no partner file covers it)
    # is a gap, not a measured zero (`measured_flows`).
    per_month = contacts.assign(month=dates.dt.to_period("M")).groupby("month")[
        "person_id"].nunique()  # fmt: skip
    rows = []
    for t in range(1, len(grid)):
        was, now = active[:, t - 1], active[:, t]
        came = now & ~was
        went = was & ~now
        new = int((came & ~seen[:, t - 1]).sum())
        back_housing = int((came & housed[:, t - 1]).sum())
        back_inactive = int((came & inactive[:, t - 1]).sum())
        moved = int((went & housed[:, t]).sum())
        dropped = int((went & inactive[:, t]).sum())
        before, after = int(was.sum()), int(now.sum())
        inflow, outflow = new + back_housing + back_inactive, moved + dropped
        rows.append((str(months[t - 1]), int(per_month.get(months[t - 1], 0)), before, new,
                     back_housing, back_inactive, inflow, moved, dropped, outflow, after,
                     after - (before + inflow - outflow)))  # fmt: skip
    return pd.DataFrame(rows, columns=FLOW_COLUMNS)


def measured_flows(monthly: pd.DataFrame) -> pd.DataFrame:
    """``monthly`` with every figure of a month that no partner record covers set to missing
    (drawn as a gap and written "pas de données", never as a zero). Flows stored before the
    ``en_contact`` column existed are returned unchanged."""
    if "en_contact" not in monthly:
        return monthly
    shown = monthly.copy()
    figures = [c for c in FLOW_COLUMNS if c not in ("mois", "en_contact")]
    shown[figures] = shown[figures].astype("Float64")
    shown.loc[shown["en_contact"] == 0, figures] = pd.NA
    return shown


def _last_by_month(codes: np.ndarray, days: np.ndarray, ends: np.ndarray, n: int) -> np.ndarray:
    """Per person and month end, the last event day on or before it (`_NEVER` if none)."""
    table = np.full((n, len(ends)), _NEVER, dtype="int64")
    if len(codes):
        bucket = np.searchsorted(ends, days, side="left")
        keep = bucket < len(ends)
        np.maximum.at(table, (codes[keep], bucket[keep]), days[keep])
        np.maximum.accumulate(table, axis=1, out=table)
    return table
