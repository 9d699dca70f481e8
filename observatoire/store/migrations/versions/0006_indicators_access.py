"""Indicator targets and staff-entered values, installation settings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _yearly(name: str, column: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("indicator_id", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        column,
        sa.Column("convention" if name == "indicator_target" else "source", sa.Text),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territory.id"], ondelete="CASCADE",
            name=f"fk_{name}_territory_id_territory",
        ),
        sa.UniqueConstraint(
            "territory_id", "indicator_id", "year", name=f"uq_{name}_territory_id"
        ),
    )


def upgrade() -> None:
    _yearly("indicator_target", sa.Column("target", sa.Float, nullable=False))
    _yearly("indicator_value", sa.Column("value", sa.Float, nullable=False))
    op.create_table(
        "app_setting",
        sa.Column("key", sa.String(64)),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_app_setting"),
    )


def downgrade() -> None:
    op.drop_table("app_setting")
    op.drop_table("indicator_value")
    op.drop_table("indicator_target")
