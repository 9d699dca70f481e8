"""Stored aggregates of the partner records for the dashboards, a covering index on
``source_record`` for the aggregations that group its rows by person, and the people each
linked person is expected to be (``person.expected_people``, 1 for existing rows).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("expected_people", sa.Float, nullable=False,
                                   server_default="1"))  # fmt: skip
    op.create_index(
        "ix_source_record_person_contact",
        "source_record",
        ["person_id", "last_contact", "commune_code", "source"],
    )
    op.create_table(
        "feed_aggregate",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("parameters", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_aggregate"),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territory.id"], ondelete="CASCADE",
            name="fk_feed_aggregate_territory_id_territory",
        ),
        sa.UniqueConstraint("territory_id", "name", "parameters",
                            name="uq_feed_aggregate_territory_id"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("feed_aggregate")
    op.drop_index("ix_source_record_person_contact", table_name="source_record")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("expected_people")
