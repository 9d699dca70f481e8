"""The plan attributes of rows imported with the shipped formats, read again from the JSON.

Migration 0010 filled ``source_record.plan_*`` with the column names partners write
("Motif", "date_orientation"...), but the shipped formats store the rows' attributes under
their field names (``reason``, ``contact_date``, ``orientation_date``): the 115 calls had no
motive, so the share of shelter requests left unanswered was never computed. The same
statement as 0010's, with the field names first.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None

_COLUMNS = ("plan_date", "plan_label", "plan_status")
# As `observatoire.plan_attributes.PLAN_ATTRIBUTES` when this migration was written.
_KEYS = {
    "si_siao": (("orientation_date", "date_orientation", "Date d'orientation", "date_demande",
                 "Date de la demande"),
                ("orientation", "Orientation"),
                ("status", "statut", "Statut")),
    "appels_115": (("contact_date", "date", "date_appel", "Date et heure"),
                   ("answer", "reponse", "Réponse"),
                   ("reason", "motif", "Motif", "motive")),
}  # fmt: skip


def upgrade() -> None:
    records = sa.table("source_record", sa.column("source", sa.String),
                       sa.column("attributes", sa.JSON),
                       *(sa.column(name, sa.Text) for name in _COLUMNS))  # fmt: skip
    for source, keys in _KEYS.items():
        values = {}
        for name, alternatives in zip(_COLUMNS, keys, strict=True):
            found = [sa.func.nullif(records.c.attributes[k].as_string(), "")
                     for k in alternatives]  # fmt: skip
            values[name] = sa.cast(sa.func.coalesce(*found), sa.Text)
        op.execute(records.update().where(records.c.source == source).values(**values))


def downgrade() -> None:
    """Nothing to undo: the columns keep values that the older code reads as well."""
