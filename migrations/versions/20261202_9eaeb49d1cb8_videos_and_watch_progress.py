"""Recorded lectures: videos, watch progress and sessions, beats kept for xAPI; recording decisions

Revision ID: 9eaeb49d1cb8
Revises: c3e5a7b9d1f2
Create Date: 2026-12-02 00:57:29.533469

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9eaeb49d1cb8"
down_revision = "c3e5a7b9d1f2"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "watch_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("watched_s", sa.Float(), nullable=False),
        sa.Column("last_position", sa.Float(), nullable=False),
        sa.Column("credit_tokens", sa.Float(), nullable=False),
        sa.Column("credit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lesson.id"], name=op.f("fk_watch_progress_lesson_id_lesson"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_watch_progress_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_progress")),
        sa.UniqueConstraint("lesson_id", "user_id", name=op.f("uq_watch_progress_lesson_id_user_id")),
    )
    with op.batch_alter_table("watch_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_progress_user_id"), ["user_id"], unique=False)

    op.create_table(
        "watch_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_beat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lesson.id"], name=op.f("fk_watch_session_lesson_id_lesson"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_watch_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_session")),
        sa.UniqueConstraint("key", "user_id", name=op.f("uq_watch_session_key_user_id")),
    )
    with op.batch_alter_table("watch_session", schema=None) as batch_op:
        batch_op.create_index("ix_watch_session_lesson_user", ["lesson_id", "user_id"], unique=False)

    op.create_table(
        "watch_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("credited_s", sa.Float(), nullable=False),
        sa.Column("seek_from", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["watch_session_id"],
            ["watch_session.id"],
            name=op.f("fk_watch_event_watch_session_id_watch_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_event")),
    )
    with op.batch_alter_table("watch_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watch_event_watch_session_id"), ["watch_session_id"], unique=False
        )

    op.create_table(
        "video",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lesson_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "uploading", "processing", "ready", "failed", name="videostate", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("source_key", sa.String(length=300), nullable=False),
        sa.Column("original_name", sa.String(length=200), nullable=False),
        sa.Column("declared_size", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("upload_id", sa.String(length=200), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("upload_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("has_audio", sa.Boolean(), nullable=True),
        sa.Column("renditions", sa.JSON(), nullable=False),
        sa.Column("captions_key", sa.String(length=300), nullable=True),
        sa.Column("progress_pct", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_video_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lesson_id"], ["lesson.id"], name=op.f("fk_video_lesson_id_lesson"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
            name=op.f("fk_video_recording_id_recording"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video")),
        sa.UniqueConstraint("lesson_id", name=op.f("uq_video_lesson_id")),
    )
    with op.batch_alter_table("video", schema=None) as batch_op:
        batch_op.create_index("ix_video_state_lease", ["state", "lease_until"], unique=False)

    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("watch_threshold_pct", sa.Integer(), server_default="90", nullable=False)
        )
        batch_op.add_column(sa.Column("seek_lock", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("lesson_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_recording_lesson_id_lesson"), "lesson", ["lesson_id"], ["id"], ondelete="SET NULL"
        )


def downgrade():

    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_recording_lesson_id_lesson"), type_="foreignkey")
        batch_op.drop_column("lesson_id")
        batch_op.drop_column("decision")

    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_column("seek_lock")
        batch_op.drop_column("watch_threshold_pct")

    with op.batch_alter_table("video", schema=None) as batch_op:
        batch_op.drop_index("ix_video_state_lease")

    op.drop_table("video")
    with op.batch_alter_table("watch_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_event_watch_session_id"))

    op.drop_table("watch_event")
    with op.batch_alter_table("watch_session", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_session_lesson_user")

    op.drop_table("watch_session")
    with op.batch_alter_table("watch_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_progress_user_id"))

    op.drop_table("watch_progress")
