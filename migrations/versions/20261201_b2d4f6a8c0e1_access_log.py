"""audit log of reads and exports of students' records

Revision ID: b2d4f6a8c0e1
Revises: a1c3e5f7b9d2
Create Date: 2026-12-01 23:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b2d4f6a8c0e1"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "attendance_viewed",
                "attendance_exported",
                "enrolment_viewed",
                "enrolment_report_viewed",
                "enrolment_report_exported",
                "roster_imported",
                "audit_log_exported",
                name="accessaction",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_access_log_actor_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["organisation.id"], name=op.f("fk_access_log_office_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_at", ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_office_id"), ["office_id"], unique=False)


def downgrade():
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_office_id"))
        batch_op.drop_index(batch_op.f("ix_access_log_actor_id"))
        batch_op.drop_index("ix_access_log_at")
    op.drop_table("access_log")
