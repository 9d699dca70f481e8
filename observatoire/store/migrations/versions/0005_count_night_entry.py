"""Count-night entry: submissions with warnings, corrections history, practice entries,
campaign options (training mode, lock).

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign_option",
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("training", sa.Boolean, nullable=False),
        sa.Column("locked_at", TZ),
        sa.Column("locked_by", sa.String(64)),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_campaign_option"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_campaign_option_campaign_id_campaign",
        ),
    )
    op.create_table(
        "observation_submission",
        sa.Column("observation_id", sa.Integer, nullable=False),
        sa.Column("questionnaire_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("observation_id", name="pk_observation_submission"),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observation.id"], ondelete="CASCADE",
            name="fk_observation_submission_observation_id_observation",
        ),
    )
    op.create_table(
        "observation_revision",
        sa.Column("id", sa.Integer),
        sa.Column("observation_id", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("revised_at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation_revision"),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observation.id"], ondelete="CASCADE",
            name="fk_observation_revision_observation_id_observation",
        ),
        sa.UniqueConstraint(
            "observation_id", "revision", name="uq_observation_revision_observation_id"
        ),
    )
    op.create_index(
        "ix_observation_revision_observation_id", "observation_revision", ["observation_id"]
    )
    op.create_table(
        "practice_observation",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("submission_uuid", sa.String(36), nullable=False),
        sa.Column("team_id", sa.Integer, nullable=False),
        sa.Column("sector_id", sa.Integer, nullable=False),
        sa.Column("situation", sa.String(32), nullable=False),
        sa.Column("collected_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practice_observation"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_practice_observation_campaign_id_campaign",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], ondelete="CASCADE",
            name="fk_practice_observation_team_id_team",
        ),
        sa.ForeignKeyConstraint(
            ["sector_id"], ["sector.id"], ondelete="CASCADE",
            name="fk_practice_observation_sector_id_sector",
        ),
        sa.UniqueConstraint("submission_uuid", name="uq_practice_observation_submission_uuid"),
    )
    op.create_index(
        "ix_practice_observation_campaign_id", "practice_observation", ["campaign_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_practice_observation_campaign_id", "practice_observation")
    op.drop_table("practice_observation")
    op.drop_index("ix_observation_revision_observation_id", "observation_revision")
    op.drop_table("observation_revision")
    op.drop_table("observation_submission")
    op.drop_table("campaign_option")
