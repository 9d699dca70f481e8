"""Partner feeds told apart by the organisation that sent them, and imports that can be undone.

- ``feed_import.partner``: the organisation that sent the file. Its rows' keys are scoped by
  it (`observatoire.feeds.validate.RecordBuilder`), so that two SIAO whose request numbers
  collide never overwrite each other. Every import stored before gets the default
  organisation (``territoire``), whose keys are the keys of before: the stored rows keep
  theirs, and a later extract of the same partner still updates them.
- ``feed_import.undone_at``, ``undone_by``: set by ``observatoire feed undo``.
- The same file may be imported once per format (it was once per file: a file imported under
  the wrong format could not be imported under the right one), and again once its import is
  undone: one import in force per (fingerprint, format).
- ``feed_import_previous``: the content of the records an import updated, as it was before,
  for ``feed undo``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_DEFAULT_PARTNER = "territoire"  # as `feeds_tables.DEFAULT_PARTNER` when this was written
_IN_FORCE = sa.text("undone_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("feed_import") as batch:
        batch.add_column(sa.Column("partner", sa.String(64), nullable=False,
                                   server_default=_DEFAULT_PARTNER))
        batch.add_column(sa.Column("undone_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("undone_by", sa.String(64)))
        batch.drop_constraint("uq_feed_import_fingerprint", type_="unique")
    op.create_index("uq_feed_import_file_format", "feed_import", ["fingerprint", "format_name"],
                    unique=True, sqlite_where=_IN_FORCE, postgresql_where=_IN_FORCE)
    op.create_table(
        "feed_import_previous",
        sa.Column("id", sa.Integer),
        sa.Column("import_id", sa.Integer, nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("previous", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_import_previous"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["feed_import.id"], ondelete="CASCADE",
            name="fk_feed_import_previous_import_id_feed_import",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["source_record.id"], ondelete="CASCADE",
            name="fk_feed_import_previous_record_id_source_record",
        ),
    )
    op.create_index("ix_feed_import_previous_import_id", "feed_import_previous", ["import_id"])
    op.create_index("ix_feed_import_previous_record_id", "feed_import_previous", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_feed_import_previous_record_id", table_name="feed_import_previous")
    op.drop_index("ix_feed_import_previous_import_id", table_name="feed_import_previous")
    op.drop_table("feed_import_previous")
    op.drop_index("uq_feed_import_file_format", table_name="feed_import")
    # Undone imports would break the uniqueness of fingerprints of before: they go.
    op.execute("DELETE FROM feed_import WHERE undone_at IS NOT NULL")
    with op.batch_alter_table("feed_import") as batch:
        batch.create_unique_constraint("uq_feed_import_fingerprint", ["fingerprint"])
        batch.drop_column("undone_by")
        batch.drop_column("undone_at")
        batch.drop_column("partner")
