"""Instructors in the pool can be deactivated: offered for no new course, their past courses kept

Revision ID: e4a6c8e0f2b3
Revises: d3f5b7c9e1a2
Create Date: 2026-12-02 06:18:57.700352

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e4a6c8e0f2b3"
down_revision = "d3f5b7c9e1a2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("instructor_profile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table("instructor_profile", schema=None) as batch_op:
        batch_op.drop_column("active")
