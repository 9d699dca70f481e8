"""The yearly evaluation: conventions kept as versions (``convention_version``), figures
that come from no feed with their history, per year or quarter and optionally per commune
(``indicator_figure``, filled with the yearly figures of ``indicator_value``), and the
data-sharing register (``sharing_agreement``).

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "convention_version",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_convention_version"),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"], ondelete="CASCADE",
                                name="fk_convention_version_territory_id_territory"),
        sa.UniqueConstraint("territory_id", "period", "version",
                            name="uq_convention_version_territory_id"),
    )
    figure = op.create_table(
        "indicator_figure",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("indicator_id", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("quarter", sa.Integer),
        sa.Column("commune_code", sa.String(5)),
        sa.Column("value", sa.Float),
        sa.Column("source", sa.Text),
        sa.Column("comment", sa.Text),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indicator_figure"),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"], ondelete="CASCADE",
                                name="fk_indicator_figure_territory_id_territory"),
    )
    op.create_index("ix_indicator_figure_key", "indicator_figure",
                    ["territory_id", "indicator_id", "year"])
    op.create_table(
        "sharing_agreement",
        sa.Column("id", sa.Integer),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("formats", sa.JSON, nullable=False),
        sa.Column("retention_months", sa.Integer, nullable=False),
        sa.Column("signed_on", sa.Date),
        sa.Column("ends_on", sa.Date),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sharing_agreement"),
        sa.UniqueConstraint("partner", name="uq_sharing_agreement_partner"),
    )
    # The yearly figures typed so far become the first entry of their history.
    old = sa.table("indicator_value", sa.column("territory_id"), sa.column("indicator_id"),
                   sa.column("year"), sa.column("value"), sa.column("source"),
                   sa.column("updated_at"), sa.column("updated_by"))
    op.execute(figure.insert().from_select(
        ["territory_id", "indicator_id", "year", "value", "source", "entered_at", "entered_by"],
        sa.select(old.c.territory_id, old.c.indicator_id, old.c.year, old.c.value,
                  old.c.source, old.c.updated_at, old.c.updated_by)))


def downgrade() -> None:
    op.drop_table("sharing_agreement")
    op.drop_index("ix_indicator_figure_key", table_name="indicator_figure")
    op.drop_table("indicator_figure")
    op.drop_table("convention_version")
