"""Flask CLI commands: `flask seed-demo`."""

from __future__ import annotations

import click
from flask import Flask

from app.extensions import dbs


def init_app(app: Flask) -> None:
    """Register the CLI commands."""

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo office, schools, classes and people (once)."""
        from courses.seed import DEMO_LOGINS, DEMO_PASSWORD, schedule_demo_live_lesson, seed_demo

        created = seed_demo(dbs())
        live_id = schedule_demo_live_lesson(dbs())
        dbs().commit()
        if created:
            click.echo("데모 데이터를 만들었습니다 / demo data created")
        for username, label in DEMO_LOGINS:
            click.echo(f"  {username:<12} / {DEMO_PASSWORD}   {label}")
        if live_id is not None:
            click.echo(
                f"  실시간 수업 / live class:  /live/{live_id}   (teacher1 + student1~student30, 지금 입장 가능 / open now)"
            )
