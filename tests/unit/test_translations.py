"""The English catalogue: every Korean msgid translated, placeholders intact, and the app really uses it.

Korean is the source language: the msgids are Korean and app/translations/en/LC_MESSAGES/messages.po holds
the English. When a test here fails after you added a string, run scripts/i18n and translate the entries it
lists (the failure message names each one with its file and line).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# The same command scripts/i18n runs (N_ marks domain msgids; _l is reserved for lazy strings).
EXTRACT_ARGS = ["-F", "babel.cfg", "-k", "N_", "-k", "_l"]

# %(name)s, %d, %% … (Python %-format, as the app fills them) and {name} (filled by app/static/js).
PLACEHOLDER = re.compile(
    r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]|\{\w*\}"
)


def _pybabel(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run pybabel with this interpreter (the project's venv), so the test needs nothing on PATH."""
    return subprocess.run(
        [sys.executable, "-c", "from babel.messages.frontend import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _where(message: Message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations) or "?"


@pytest.fixture(scope="module")
def catalogue() -> Catalog:
    assert PO.is_file(), f"{PO.relative_to(ROOT)} is missing: run scripts/i18n"
    with PO.open("rb") as f:
        return read_po(f, locale="en")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The catalogue template extracted from the tree as it is now."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    r = _pybabel("-q", "extract", *EXTRACT_ARGS, "-o", str(pot), ".")
    assert r.returncode == 0, r.stderr
    with pot.open("rb") as f:
        return read_po(f)


def test_every_extracted_msgid_has_an_english_translation(template: Catalog, catalogue: Catalog) -> None:
    problems = []
    for msg in template:
        if not msg.id:
            continue
        entry = catalogue.get(msg.id, msg.context)
        if entry is None:
            problems.append(f"  not in messages.po:  {msg.id!r}  ({_where(msg)})")
        elif not entry.string or not str(entry.string).strip():
            problems.append(f"  untranslated:        {msg.id!r}  ({_where(msg)})")
        elif entry.fuzzy:
            problems.append(f"  fuzzy (check it):    {msg.id!r}  ({_where(msg)})")
    assert len(template) > 100, "extraction found almost nothing: is babel.cfg right?"
    assert not problems, (
        f"{len(problems)} Korean UI string(s) lack an English translation. Run scripts/i18n, then translate "
        f"them in {PO.relative_to(ROOT)}:\n" + "\n".join(problems)
    )


def test_catalogue_has_no_fuzzy_or_empty_entries(catalogue: Catalog) -> None:
    assert not catalogue.fuzzy, "the catalogue header is marked fuzzy"
    bad = [
        f"  {m.id!r} ({_where(m)})"
        for m in catalogue
        if m.id and (m.fuzzy or not m.string or not str(m.string).strip())
    ]
    assert not bad, "fuzzy or empty entries in messages.po:\n" + "\n".join(bad)


def test_placeholders_match(catalogue: Catalog) -> None:
    problems = []
    for msg in catalogue:
        if not msg.id or not msg.string:
            continue
        want, got = Counter(PLACEHOLDER.findall(msg.id)), Counter(PLACEHOLDER.findall(str(msg.string)))
        if want != got:
            problems.append(
                f"  {msg.id!r} → {msg.string!r}: expected {sorted(want.elements())}, "
                f"got {sorted(got.elements())}  ({_where(msg)})"
            )
        if (
            "python-format" in msg.flags
            and "%" in str(msg.string).replace("%%", "")
            and not msg.python_format
        ):
            problems.append(f"  {msg.id!r}: python-format flag but the msgstr is not a valid format")
    # Babel's own checks (the ones `pybabel compile` reports as errors).
    for msg, errors in catalogue.check():
        problems.extend(f"  {msg.id!r}: {e}" for e in errors)
    assert not problems, "placeholder mismatches in messages.po:\n" + "\n".join(problems)


def test_catalogue_compiles_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "messages.mo"
    r = _pybabel("compile", "-i", str(PO), "-o", str(out), "-l", "en", "--statistics")
    assert r.returncode == 0 and out.stat().st_size > 0, r.stderr
    assert "error" not in r.stderr.lower(), r.stderr
    assert "(100%) translated" in r.stderr, r.stderr


# ── The app in English ──


@pytest.fixture(scope="module")
def compiled_catalogue(app):  # type: ignore[no-untyped-def]
    """Make sure app/translations/en/…/messages.mo exists (gitignored; scripts/_setup.sh builds it) and is current."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        r = _pybabel("compile", "-d", str(TRANSLATIONS), "-D", "messages")
        assert r.returncode == 0 and MO.exists(), r.stderr
        # flask-babel caches each locale's translations on the app: forget an English loaded before the .mo.
        with app.app_context():
            app.extensions["babel"].instance.domain_instance.cache.clear()
    return MO


def _english(login, user):  # type: ignore[no-untyped-def]
    c = login(user)
    r = c.post("/lang/en", data={"csrf_token": c.csrf(), "next": "/"})
    assert r.status_code == 302
    return c


def test_home_page_in_english(compiled_catalogue, login, web_world) -> None:  # type: ignore[no-untyped-def]
    c = _english(login, web_world["teacher"])
    page = c.get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Request a course" in page and "강좌 요청하기" not in page
    assert "Log out" in page and "로그아웃" not in page
    assert "Skip to main content" in page


def test_course_request_page_in_english(compiled_catalogue, login, web_world) -> None:  # type: ignore[no-untyped-def]
    c = _english(login, web_world["teacher"])
    r = c.get("/courses/new")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert '<html lang="en">' in page
    for english, korean in [
        ("Request a cross-curricular course", "범교과 강좌 요청"),
        ("Submit request", "요청하기"),
        ("Periods (total credit hours)", "차시 (총 수업시수)"),
        ("Start date", "시작일"),
    ]:
        assert english in page, english
        assert f">{korean}<" not in page, korean


def test_korean_stays_the_default(compiled_catalogue, login, web_world) -> None:  # type: ignore[no-untyped-def]
    page = login(web_world["teacher"]).get("/").get_data(as_text=True)
    assert '<html lang="ko">' in page and "강좌 요청하기" in page and "Request a course" not in page


def test_generated_labels_and_menus_in_english(compiled_catalogue, login, web_world) -> None:  # type: ignore[no-untyped-def]
    """Class names, lesson numbers and theme names are translated too; menu labels are plural."""
    c = _english(login, web_world["teacher"])
    page = c.get("/courses/new").get_data(as_text=True)
    assert "Grade 5 Class 1" in page and "5학년 1반" not in page
    assert ">Courses</a>" in page and ">Course</a>" not in page


def test_theme_names_follow_the_language(compiled_catalogue, login, web_world) -> None:  # type: ignore[no-untyped-def]
    theme = web_world.themes[0]
    assert theme.name_en, "the seeded themes carry English names"
    c = _english(login, web_world["teacher"])
    page = c.get("/courses/new").get_data(as_text=True)
    assert f">{theme.name_en}</option>" in page and f">{theme.name}</option>" not in page
