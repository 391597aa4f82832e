"""Security headers on every page, API reply and error; the CSP allows no inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


@pytest.mark.parametrize(
    "path", ["/login", "/", "/courses/", "/api/v1/me", "/nope", "/account", "/reports/enrolment"]
)
def test_every_response_has_the_headers(login, web_world, path):
    c = login(web_world["school_admin"])
    r = c.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "ws://127.0.0.1:8765" in csp  # the SFU's WebSocket
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    r = client.get("/static/js/live.js")
    assert r.status_code == 200 and r.headers.get("Cache-Control") != "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_no_template_has_inline_script_or_handlers():
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"<script(?P<attrs>[^>]*)>", text):
            attrs = m.group("attrs")
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                offenders.append(f"{path.name}: inline <script{attrs}>")
        if re.search(r"\son[a-z]+\s*=", text) or re.search(r"\sstyle\s*=", text) or "javascript:" in text:
            offenders.append(f"{path.name}: inline handler, style attribute or javascript: URL")
    assert not offenders, offenders
