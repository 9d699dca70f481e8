"""Published versions of count nights (``publication_version``): date, author and the
protected figures as built, read by every public surface.

The campaign statuses ``validated`` and ``published`` need no schema change (the status is a
16-character string).

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication_version",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_publication_version"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_publication_version_campaign_id_campaign",
        ),
        sa.UniqueConstraint("campaign_id", "version", name="uq_publication_version_campaign_id"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("publication_version")
