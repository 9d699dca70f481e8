"""The estimate of distinct people of a linkage run, beside its 90 % interval
(``people_estimate``, ``people_low``, ``people_high``): ``estimate_detail`` keeps the interval
once the run's review queue is answered, so that the review page says how much of the
uncertainty the queue carries, and the calibration the estimate was computed with.

Revision ID: 0011
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linkage_run") as batch:
        batch.add_column(sa.Column("estimate_detail", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linkage_run") as batch:
        batch.drop_column("estimate_detail")
