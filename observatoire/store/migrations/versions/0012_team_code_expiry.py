"""When a campaign's team codes were opened (``campaign_option.codes_opened_at``): a team
code works from the opening (entry or training mode) until the morning after the count
night, or 24 hours after a late opening, and never once the campaign is locked
(`observatoire.countnight.entry.codes_close_at`).

Campaigns opened before this migration have no opening time: their codes close the morning
after their night.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_option") as batch:
        batch.add_column(sa.Column("codes_opened_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("campaign_option") as batch:
        batch.drop_column("codes_opened_at")
