"""The attributes the *Logement d'abord* indicators read, in narrow columns of
``source_record`` (``plan_date``, ``plan_label``, ``plan_status``; see
`observatoire.plan_attributes`), filled here from the JSON of the stored rows, and an index
where the indicators find the few labels and statuses that count.

Reading them out of ``attributes`` decoded the JSON of every SI-SIAO row at each refresh of
the dashboards' aggregates: about 20 seconds at a million rows.

Also drops the index on ``last_contact`` alone: only purges read it (rarely; the index of
migration 0009 or a scan serves them in a few seconds at a million rows), and keeping it up
to date cost about 8 µs of each imported row, a fifth of the time of storing it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = ("plan_date", "plan_label", "plan_status")
# As `observatoire.plan_attributes.PLAN_ATTRIBUTES` when this migration was written (a
# migration does not follow later changes of the code).
_KEYS = {
    "si_siao": (("date_orientation", "Date d'orientation", "date_demande", "Date de la demande"),
                ("orientation", "Orientation"),
                ("statut", "status", "Statut")),
    "appels_115": (("date", "date_appel", "Date et heure"),
                   ("reponse", "Réponse", "answer"),
                   ("motif", "Motif", "motive")),
}  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("source_record") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Text))
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
    op.create_index("ix_source_record_plan", "source_record",
                    ["source", "plan_label", "plan_status"])
    op.drop_index("ix_source_record_last_contact", table_name="source_record")


def downgrade() -> None:
    op.create_index("ix_source_record_last_contact", "source_record", ["last_contact"])
    op.drop_index("ix_source_record_plan", table_name="source_record")
    with op.batch_alter_table("source_record") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
