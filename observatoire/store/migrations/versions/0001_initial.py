"""Initial schema: territories, communes, campaigns, teams, sectors, observations,
partner source records, persons and user accounts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "territory",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("epci_code", sa.String(9)),
        sa.Column("cog_year", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_territory"),
        sa.UniqueConstraint("slug", name="uq_territory_slug"),
    )
    op.create_table(
        "commune",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(5), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("cog_year", sa.Integer, nullable=False),
        sa.Column("parent_code", sa.String(5)),
        sa.Column("geometry_wkb", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_commune"),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territory.id"], ondelete="CASCADE",
            name="fk_commune_territory_id_territory",
        ),
        sa.UniqueConstraint("territory_id", "code", name="uq_commune_territory_id"),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("night_date", sa.Date, nullable=False),
        sa.Column("questionnaire_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign"),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territory.id"], name="fk_campaign_territory_id_territory"
        ),
        sa.UniqueConstraint("territory_id", "name", name="uq_campaign_territory_id"),
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_team"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_team_campaign_id_campaign",
        ),
        sa.UniqueConstraint("code", name="uq_team_code"),
    )
    op.create_table(
        "sector",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("commune_code", sa.String(5), nullable=False),
        sa.Column("team_id", sa.Integer),
        sa.Column("geometry_wkb", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sector"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], ondelete="CASCADE",
            name="fk_sector_campaign_id_campaign",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], ondelete="SET NULL", name="fk_sector_team_id_team"
        ),
        sa.UniqueConstraint("campaign_id", "code", name="uq_sector_campaign_id"),
    )
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer),
        sa.Column("campaign_id", sa.Integer, nullable=False),
        sa.Column("submission_uuid", sa.String(36), nullable=False),
        sa.Column("sector_id", sa.Integer, nullable=False),
        sa.Column("team_id", sa.Integer, nullable=False),
        sa.Column("commune_code", sa.String(5), nullable=False),
        sa.Column("situation", sa.String(32), nullable=False),
        sa.Column("sex", sa.String(1)),
        sa.Column("age_band", sa.String(32)),
        sa.Column("sleeping_place", sa.String(64)),
        sa.Column("collected_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name="fk_observation_campaign_id_campaign"
        ),
        sa.ForeignKeyConstraint(
            ["sector_id"], ["sector.id"], name="fk_observation_sector_id_sector"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name="fk_observation_team_id_team"),
        sa.UniqueConstraint("submission_uuid", name="uq_observation_submission_uuid"),
    )
    op.create_index("ix_observation_campaign_id", "observation", ["campaign_id"])
    op.create_index("ix_observation_commune_code", "observation", ["commune_code"])
    op.create_table(
        "person",
        sa.Column("id", sa.Integer),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person"),
        sa.UniqueConstraint("person_key", name="uq_person_person_key"),
    )
    op.create_table(
        "source_record",
        sa.Column("id", sa.Integer),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_row_key", sa.String(128), nullable=False),
        sa.Column("commune_code", sa.String(5)),
        sa.Column("sex", sa.String(1)),
        sa.Column("birth_year", sa.Integer),
        sa.Column("last_contact", sa.Date),
        sa.Column("pseudonyms", sa.JSON, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("person_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_source_record"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], ondelete="SET NULL",
            name="fk_source_record_person_id_person",
        ),
        sa.UniqueConstraint("source", "source_row_key", name="uq_source_record_source"),
    )
    op.create_index("ix_source_record_source", "source_record", ["source"])
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_user_account"),
        sa.UniqueConstraint("login", name="uq_user_account_login"),
    )


def downgrade() -> None:
    for table in (
        "user_account", "source_record", "person", "observation", "sector", "team",
        "campaign", "commune", "territory",
    ):
        op.drop_table(table)
