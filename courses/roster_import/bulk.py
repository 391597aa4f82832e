"""Bulk database work: ids looked up in chunks (or the office scanned), rows written by batched INSERT or COPY."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

COPY_OVER = 1000  # PostgreSQL: more new rows than this go in with COPY
SCAN_OVER = 20_000  # more rows than this to look up: read the office's rows in one scan instead
CHUNK = 2000  # rows per INSERT batch and ids per IN (...) lookup; well under SQLite's 32,766 variables


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


class BulkWriter:
    """Inserts many rows of one model at a time, the way the database at hand does it fastest."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def insert(self, model: type[Any], rows: list[dict[str, Any]], *, key: str | None = None) -> None:
        """Insert rows in bulk; with `key`, each row dict gets its new "id" (matched on that unique column)."""
        if not rows:
            return
        if self.postgres and len(rows) >= COPY_OVER:
            self._copy(model.__table__, rows, with_ids=key is not None)
            return
        for chunk in chunks(rows):
            if key is None:
                self.s.execute(insert(model), list(chunk))
                continue
            by_key = {r[key]: r for r in chunk}
            for new_id, value in self.s.execute(
                insert(model).returning(model.id, getattr(model, key)), list(chunk)
            ):
                by_key[value]["id"] = new_id

    def _copy(self, table: Any, rows: list[dict[str, Any]], *, with_ids: bool) -> None:
        """PostgreSQL COPY: an INSERT per row (what executemany does) costs ~10× more on 100,000 rows."""
        if with_ids:
            # Take the ids from the table's sequence first, so rows and ids pair up without reading back.
            ids = self.s.scalars(
                text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)},
            ).all()
            for row, new_id in zip(rows, ids, strict=True):
                row["id"] = new_id
        columns = list(rows[0])
        names = ", ".join(table.c[c].name for c in columns)
        raw = self.s.connection().connection.driver_connection
        assert raw is not None  # a live psycopg connection while the session holds one
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                # Enum columns are non-native: SQLAlchemy stores the member's name.
                copy.write_row([v.name if isinstance(v, enum.Enum) else v for v in (row[c] for c in columns)])


def matched(value: str | None) -> str:
    """A sourcedId read back from a query that matched it (IN …), hence never NULL."""
    if value is None:
        raise ValueError("a matched sourcedId is NULL")
    return value
