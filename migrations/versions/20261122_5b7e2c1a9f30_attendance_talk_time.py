"""attendance talk time (seconds speaking, from the SFU's speaking events)

Revision ID: 5b7e2c1a9f30
Revises: d46146a3d778
Create Date: 2026-11-22 08:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5b7e2c1a9f30"
down_revision = "d46146a3d778"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("talk_seconds", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_column("talk_seconds")
