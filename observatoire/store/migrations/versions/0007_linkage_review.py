"""Record linkage: review decisions, person splits, linkage runs, review queue, the person
of each count-night observation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
KEY = sa.String(200)


def upgrade() -> None:
    op.create_table(
        "review_decision",
        sa.Column("id", sa.Integer),
        sa.Column("record_a", KEY, nullable=False),
        sa.Column("record_b", KEY, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("probability", sa.Float),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_decision"),
    )
    op.create_index("ix_review_decision_pair", "review_decision", ["record_a", "record_b"])
    op.create_table(
        "person_split",
        sa.Column("id", sa.Integer),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("moved", sa.JSON, nullable=False),
        sa.Column("kept", sa.JSON, nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("split_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_person_split"),
    )
    op.create_index("ix_person_split_person_key", "person_split", ["person_key"])
    op.create_table(
        "linkage_run",
        sa.Column("id", sa.Integer),
        sa.Column("run_at", TZ, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("persons", sa.Integer, nullable=False),
        sa.Column("people_estimate", sa.Integer, nullable=False),
        sa.Column("people_low", sa.Integer, nullable=False),
        sa.Column("people_high", sa.Integer, nullable=False),
        sa.Column("review_pairs", sa.Integer, nullable=False),
        sa.Column("decisions_used", sa.Integer, nullable=False),
        sa.Column("retrained", sa.Boolean, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("seconds", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_linkage_run"),
    )
    op.create_table(
        "review_pair",
        sa.Column("id", sa.Integer),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("record_a", KEY, nullable=False),
        sa.Column("record_b", KEY, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("levels", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_pair"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["linkage_run.id"], ondelete="CASCADE",
            name="fk_review_pair_run_id_linkage_run",
        ),
    )
    op.create_index("ix_review_pair_run_id", "review_pair", ["run_id"])
    op.create_table(
        "observation_person",
        sa.Column("observation_id", sa.Integer, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("match_confidence", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("observation_id", name="pk_observation_person"),
        sa.ForeignKeyConstraint(
            ["observation_id"], ["observation.id"], ondelete="CASCADE",
            name="fk_observation_person_observation_id_observation",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], ondelete="CASCADE",
            name="fk_observation_person_person_id_person",
        ),
    )
    op.create_index("ix_observation_person_person_id", "observation_person", ["person_id"])


def downgrade() -> None:
    op.drop_table("observation_person")
    op.drop_table("review_pair")
    op.drop_table("linkage_run")
    op.drop_table("person_split")
    op.drop_table("review_decision")
