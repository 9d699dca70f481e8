"""Partner feeds: import batches, quarantined rows, count-night place tallies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feed_import",
        sa.Column("id", sa.Integer),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("format_name", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16)),
        sa.Column("imported_at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_imported", sa.Integer, nullable=False),
        sa.Column("rows_already_present", sa.Integer, nullable=False),
        sa.Column("rows_duplicate", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("warnings", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_import"),
        sa.UniqueConstraint("fingerprint", name="uq_feed_import_fingerprint"),
    )
    op.create_table(
        "feed_quarantine",
        sa.Column("id", sa.Integer),
        sa.Column("import_id", sa.Integer, nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("cells", sa.JSON, nullable=False),
        sa.Column("issues", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_quarantine"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["feed_import.id"], ondelete="CASCADE",
            name="fk_feed_quarantine_import_id_feed_import",
        ),
    )
    op.create_index("ix_feed_quarantine_import_id", "feed_quarantine", ["import_id"])
    op.create_table(
        "place_tally",
        sa.Column("id", sa.Integer),
        sa.Column("import_id", sa.Integer),
        sa.Column("row_key", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(200)),
        sa.Column("night_date", sa.Date, nullable=False),
        sa.Column("place_kind", sa.String(32), nullable=False),
        sa.Column("place_name", sa.String(200)),
        sa.Column("commune_code", sa.String(5)),
        sa.Column("people_count", sa.Integer, nullable=False),
        sa.Column("partner", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_place_tally"),
        sa.ForeignKeyConstraint(
            ["import_id"], ["feed_import.id"], ondelete="SET NULL",
            name="fk_place_tally_import_id_feed_import",
        ),
        sa.UniqueConstraint("row_key", name="uq_place_tally_row_key"),
    )
    op.create_index("ix_place_tally_import_id", "place_tally", ["import_id"])
    op.create_index("ix_place_tally_night_date", "place_tally", ["night_date"])
    # Purges select source records by their last contact.
    op.create_index("ix_source_record_last_contact", "source_record", ["last_contact"])


def downgrade() -> None:
    op.drop_index("ix_source_record_last_contact", "source_record")
    op.drop_table("place_tally")
    op.drop_table("feed_quarantine")
    op.drop_table("feed_import")
