"""Drop the index on ``source_record.source`` alone.

The unique constraint ``uq_source_record_source`` on ``(source, source_row_key)`` already
serves every look-up by source (its leading column). With statistics from before a large
import, PostgreSQL chose the single-column index for the key look-ups of a feed import and
filtered every row of the source: 0.6 s per 900-key query at 200,000 rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_source_record_source", table_name="source_record")


def downgrade() -> None:
    op.create_index("ix_source_record_source", "source_record", ["source"])
