"""Year-on-year change between count nights, with a caution when the method or the coverage
changed.

Input ``campaigns``: one row per count night, ``campaign_id``, ``name``, ``night_date``,
``total`` (the *a minima* count or any other figure to compare) and, when known, ``method``
(questionnaire version or method label), ``sectors`` (sectors walked) and ``communes``
(number of communes covered).
"""

from __future__ import annotations

import pandas as pd

COVERAGE_TOLERANCE = 0.10
"""A change of more than 10 % in the sectors walked makes two counts hard to compare."""


def year_on_year(campaigns: pd.DataFrame) -> pd.DataFrame:
    """``campaigns`` sorted by night with ``previous``, ``change``, ``change_pct`` and
    ``caution`` (French text, empty when the two nights are comparable)."""
    frame = campaigns.sort_values("night_date").reset_index(drop=True).copy()
    frame["previous"] = frame["total"].shift(1)
    frame["change"] = frame["total"] - frame["previous"]
    frame["change_pct"] = frame["change"] / frame["previous"].where(frame["previous"] > 0)
    cautions = []
    for i, row in frame.iterrows():
        if i == 0:
            cautions.append("")
            continue
        before = frame.loc[i - 1]
        notes = []
        if "method" in frame and str(row["method"]) != str(before["method"]):
            notes.append(f"méthode ou questionnaire modifié ({before['method']} → {row['method']})")
        if "sectors" in frame and before["sectors"]:
            ratio = row["sectors"] / before["sectors"] - 1
            if abs(ratio) > COVERAGE_TOLERANCE:
                notes.append(
                    f"couverture modifiée ({int(before['sectors'])} → {int(row['sectors'])} "
                    "secteurs parcourus)"
                )
        if "communes" in frame and row["communes"] != before["communes"]:
            notes.append(
                f"communes couvertes modifiées ({int(before['communes'])} → "
                f"{int(row['communes'])})"
            )
        cautions.append("Prudence : " + " ; ".join(notes) + "." if notes else "")
    frame["caution"] = cautions
    return frame
