"""Failed sign-ins per key (login, client address) and their lockout, so that guessing a
password or a team code is slowed down across browser sessions and server restarts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("key", sa.String(200)),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.Float, nullable=False),
        sa.Column("locked_until", sa.Float),
        sa.PrimaryKeyConstraint("key", name="pk_sign_in_throttle"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttle")
