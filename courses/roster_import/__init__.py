"""Roster import from OneRoster 1.1 CSV files (orgs, classes, users, enrollments), set-based.

Modules: ``files`` (zips, encodings, CSV tables), ``validation`` (vocabularies and cell checks),
``importer`` (the run and its reference maps), one module per stage (``orgs``, ``classes``, ``users``,
``enrolments``: look up, compare, upsert), ``bulk`` (chunked lookups, batched INSERT / COPY) and
``report`` (counts and row errors). Import from here; the submodules are the layout, not the API.

Files: ``orgs.csv``, ``classes.csv``, ``users.csv``, ``enrollments.csv`` (and, optionally,
``academicSessions.csv`` for school years), given one by one or inside a zip. Each file may be
UTF-8 (with or without BOM) or CP949 (what Korean Excel writes): a BOM means UTF-8; otherwise
strict UTF-8 is tried, then CP949. Other OneRoster files (manifest.csv, courses.csv, …) are skipped.

Policy — **the good rows are kept** (not all-or-nothing):

- every row is checked on its own; a bad row is left out and reported as
  ``<file> <line>행: <reason>`` (line 1 is the header, as Excel numbers it);
- a row that depends on a left-out row (a school under a bad support office, a class of a bad
  school, a user of a bad org, an enrolment of a bad user or class) is left out too and reported
  with the row it depends on;
- a problem with a whole file (not text, a required column missing, an unknown file) leaves that
  file out and is reported once; rows of other files that need it are reported as above;
- a duplicate ``sourcedId`` in one file: the first row is kept, later ones are reported;
- warnings (the row was imported, one detail was not, e.g. a password over the per-import cap)
  are reported but do not count as failures.

The caller commits: a database error (e.g. a concurrent import winning a unique constraint)
raises and nothing is kept.

Upsert by ``sourcedId`` (orgs, classes, users) and by (class, user) for enrolments: importing the
same files again changes nothing and reports 0 new. Nothing is deleted unless a row says
``status=tobedeleted`` (users become inactive; enrolments are removed). A student has one homeroom
class per school year: an enrolment into another class of the same year moves them.

Everything lands in the acting office admin's office: a ``district`` row must be that office
(an office without a sourcedId yet adopts the first one), and references outside it are refused.
Passwords: users without a ``password`` value get none (they are set up later); pre-hashed argon2
values are stored as given; plain ones are hashed for at most ``MAX_PLAIN_PASSWORDS`` users per
import, because argon2 costs ~0.1 s each and an import may carry 100,000 users. Existing
passwords are never overwritten by an import.
"""

from __future__ import annotations

from courses.roster_import.files import OPTIONAL, REQUIRED, RosterFileError, decode_csv
from courses.roster_import.importer import import_roster
from courses.roster_import.report import ENTITIES, EntityCounts, ImportResult, RowError
from courses.roster_import.users import MAX_PLAIN_PASSWORDS
from courses.roster_import.validation import default_school_year

# One example row per file, in the order of REQUIRED then OPTIONAL columns: what a template download shows.
EXAMPLES: dict[str, dict[str, str]] = {
    "orgs": {
        "sourcedId": "sch-001",
        "name": "이음초등학교",
        "type": "school",
        "parentSourcedId": "office-001",
    },
    "classes": {
        "sourcedId": "cls-001-5-1",
        "title": "5학년 1반",
        "schoolSourcedId": "sch-001",
        "grades": "05",
        "schoolYear": "2026",
    },
    "users": {
        "sourcedId": "stu-0001",
        "username": "s20260001",
        "givenName": "민준",
        "familyName": "김",
        "role": "student",
        "orgSourcedIds": "sch-001",
        "email": "",
        "password": "",
        "enabledUser": "true",
    },
    "enrollments": {"classSourcedId": "cls-001-5-1", "userSourcedId": "stu-0001", "role": "student"},
}


def template_table(kind: str) -> tuple[list[str], list[list[str]]]:
    """The columns of one roster file (required first) and an example row. KeyError for an unknown kind."""
    columns = [*REQUIRED[kind], *OPTIONAL[kind]]
    example = EXAMPLES[kind]
    return columns, [[example.get(c, "") for c in columns]]


__all__ = [
    "EXAMPLES",
    "template_table",
    "ENTITIES",
    "MAX_PLAIN_PASSWORDS",
    "EntityCounts",
    "ImportResult",
    "RosterFileError",
    "RowError",
    "decode_csv",
    "default_school_year",
    "import_roster",
]
