"""System-performance measures that linked partner records allow (as the HUD's System
Performance Measures define them), pure functions of the contacts of linked persons
(``person_id``, ``date``) and of their moves to housing (`housing.exits_to_housing`).

- length of time homeless: for the persons seen in a year, the months from their first
  contact on record to their last contact of that year (median);
- first-time homeless in a year: persons whose first contact of the year follows no
  contact in the previous 24 months;
- returns to homelessness: among the persons moved to housing in a year, the share seen
  again by a partner within 6, 12 or 24 months of the move (a contact in the first
  `GRACE_DAYS` days is the move's own follow-up, not a return).

Both depend on how far back the records go: a year whose look-back window starts before
the first record counts too many first-timers (`first_time_homeless` says so with
``complete``)."""

from __future__ import annotations

import pandas as pd

LOOK_BACK_MONTHS = 24
GRACE_DAYS = 14
RETURN_WINDOWS = (6, 12, 24)
MIN_BASE = 11  # a share (a median) of fewer people than this is not given: it singles them out
DAYS_PER_MONTH = 365.25 / 12


def _contacts(contacts: pd.DataFrame, *extra: str) -> pd.DataFrame:
    columns = ["person_id", "date", *(c for c in extra if c in contacts)]
    frame = contacts.dropna(subset=["person_id"])[columns].copy()
    frame["date"] = pd.to_datetime(frame["date"], errors="coerce")
    return frame.dropna(subset=["date"])


def first_time_homeless(contacts: pd.DataFrame) -> pd.DataFrame:
    """``year``, ``value`` (persons first seen that year after 24 months without a
    contact), ``complete`` (the records cover the whole look-back window).

    With an ``expected_people`` column (the linkage's, per person), each first-timer counts
    as the people the linkage expects it to be, as the de-duplicated estimate does: a
    person the clustering split in three is three persons found but about one person
    expected, and counting the persons found would give more first-timers than people."""
    frame = _contacts(contacts, "expected_people")
    expected = frame.get("expected_people", pd.Series(1.0, index=frame.index))
    frame["weight"] = pd.to_numeric(expected, errors="coerce").fillna(1.0).clip(lower=0.0)
    columns = ["year", "value", "complete"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    start = frame["date"].min()
    frame = frame.sort_values(["person_id", "date"])
    frame["year"] = frame["date"].dt.year
    first = frame.drop_duplicates(["person_id", "year"])  # each person's first of the year
    previous = frame.groupby("person_id")["date"].shift()  # the contact before each one
    first = first.assign(previous=previous.loc[first.index])
    window = first["date"] - pd.DateOffset(months=LOOK_BACK_MONTHS)
    new = first["previous"].isna() | (first["previous"] < window)
    rows = []
    for year, group in first[new].groupby("year"):
        complete = pd.Timestamp(int(year), 1, 1) - pd.DateOffset(months=LOOK_BACK_MONTHS) >= start
        rows.append((int(year), float(round(group["weight"].sum())), bool(complete)))
    return pd.DataFrame(rows, columns=columns)


def returns_to_homelessness(contacts: pd.DataFrame, exits: pd.DataFrame,
                            months: int) -> pd.DataFrame:
    """``year`` (of the move), ``exits`` (persons moved to housing), ``returned`` (seen
    again within ``months``), ``value`` (the share; empty under `MIN_BASE` exits or when
    the window has not passed for every move of the year)."""
    columns = ["year", "exits", "returned", "value"]
    frame = _contacts(contacts)
    if exits.empty or "person_id" not in exits or frame.empty:
        return pd.DataFrame(columns=columns)
    moves = exits.dropna(subset=["person_id"])[["person_id", "date"]].copy()
    moves["date"] = pd.to_datetime(moves["date"], errors="coerce")
    moves = moves.dropna(subset=["date"]).sort_values("date").drop_duplicates("person_id")
    last_seen = frame["date"].max()
    joined = moves.merge(frame, on="person_id", suffixes=("_exit", ""))
    after = joined[(joined["date"] > joined["date_exit"] + pd.Timedelta(days=GRACE_DAYS))
                   & (joined["date"] <= joined["date_exit"] + pd.DateOffset(months=months))]
    returned = set(after["person_id"])
    rows = []
    moves["year"] = moves["date"].dt.year
    for year, group in moves.groupby("year"):
        count = len(group)
        back = int(group["person_id"].isin(returned).sum())
        passed = group["date"].max() + pd.DateOffset(months=months) <= last_seen
        share = back / count if count >= MIN_BASE and passed else None
        rows.append((int(year), count, back, share))
    return pd.DataFrame(rows, columns=columns)


def time_homeless_months(contacts: pd.DataFrame) -> pd.DataFrame:
    """``year``, ``value``: the median, over the persons seen in the year, of the months
    from their first contact on record to their last contact of the year (a lower bound:
    the records do not go back to the start of homelessness, and contacts before the first
    file sent are not seen). Years with fewer than `MIN_BASE` persons give none."""
    columns = ["year", "value"]
    frame = _contacts(contacts)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    first = frame.groupby("person_id")["date"].transform("min")
    frame = frame.assign(year=frame["date"].dt.year, since=first)
    last = frame.groupby(["person_id", "year"]).agg(date=("date", "max"),
                                                    since=("since", "first")).reset_index()
    last["months"] = (last["date"] - last["since"]).dt.days / DAYS_PER_MONTH
    per_year = last.groupby("year")["months"].agg(["median", "size"]).reset_index()
    per_year = per_year[per_year["size"] >= MIN_BASE]
    return pd.DataFrame({"year": per_year["year"].astype(int),
                         "value": per_year["median"].round(1).astype(float)})[columns]
