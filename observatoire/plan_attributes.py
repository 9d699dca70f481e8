"""The attributes of a partner row that the *Logement d'abord* indicators read.

``source_record`` keeps them in three narrow columns (``plan_date``, ``plan_label``,
``plan_status``) besides the JSON of all the row's attributes, so that the indicators never
decode the JSON of every row. Pure: used by the tables' defaults, the importer's bulk rows
and the indicators alike.
"""

from __future__ import annotations

import json
from typing import Any

# The attributes of a partner row the *Logement d'abord* indicators read, by source: the date,
# the label and the status columns of ``source_record`` (``plan_*``), each the first of its
# keys present and not empty. SI-SIAO: orientation date, orientation, status; 115: call
# date, answer, motive.
PLAN_ATTRIBUTES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    # The shipped formats' field names first (`feeds/formats/*.yaml`: orientation_date,
    # contact_date, reason...), then the column names of files stored as they came.
    "si_siao": (("orientation_date", "date_orientation", "Date d'orientation", "date_demande",
                 "Date de la demande"),
                ("orientation", "Orientation"),
                ("status", "statut", "Statut")),
    "appels_115": (("contact_date", "date", "date_appel", "Date et heure"),
                   ("answer", "reponse", "Réponse"),
                   ("reason", "motif", "Motif", "motive")),
}  # fmt: skip
_NO_PLAN_ATTRIBUTES = (None, None, None)
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def attribute_text(value: Any) -> str | None:
    """An attribute's value as text, as PostgreSQL's ``->>`` gives it (``None`` for null or
    empty)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else _encode_json(value)


def plan_attributes(source: str, attributes: dict[str, Any] | None) -> tuple[str | None, ...]:
    """``(plan_date, plan_label, plan_status)`` of a record (see `PLAN_ATTRIBUTES`)."""
    keys = PLAN_ATTRIBUTES.get(source)
    if keys is None or not attributes:
        return _NO_PLAN_ATTRIBUTES
    found = []
    for alternatives in keys:
        text = None
        for key in alternatives:
            text = attribute_text(attributes.get(key))
            if text is not None:
                break
        found.append(text)
    return tuple(found)
