"""Sector reports (a walked sector with nobody met is data) and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sector_report",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("sector_id", sa.Integer, nullable=False),
        sa.Column("team_id", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("people_met", sa.Integer, nullable=False),
        sa.Column("reported_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sector_report"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_sector_report_campaign_id_campaign",
        ),
        sa.ForeignKeyConstraint(
            ["sector_id"], ["sector.id"], ondelete="CASCADE",
            name="fk_sector_report_sector_id_sector",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], ondelete="SET NULL", name="fk_sector_report_team_id_team"
        ),
        sa.UniqueConstraint("sector_id", name="uq_sector_report_sector_id"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # Observations of one campaign are listed per sector on the coverage pages.
    op.create_index("ix_observation_sector_id", "observation", ["sector_id"])


def downgrade() -> None:
    op.drop_index("ix_observation_sector_id", "observation")
    op.drop_table("audit_log")
    op.drop_table("sector_report")
