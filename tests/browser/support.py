"""Helpers the browser tests share: logging in by the form, switching language, running axe-core."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "app" / "static" / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DEMO_PASSWORD = "ieum1234!"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

USERNAME_LABEL = re.compile(r"^(아이디|ID|User ?name|Username)$", re.I)
PASSWORD_LABEL = re.compile(r"^(비밀번호|Password)$", re.I)
LOGIN_BUTTON = re.compile(r"^(로그인|Log ?in|Sign ?in)$", re.I)


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the login form, by its labels, ending on the user's home page."""
    page.goto("/login")
    page.get_by_label(USERNAME_LABEL).fill(username)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name=LOGIN_BUTTON).click()
    page.wait_for_url(lambda u: "/login" not in u)


def set_locale(page: Any, code: str) -> None:
    """Switch the interface language with the header's language button, unless it is `code` already."""
    if page.locator("html").get_attribute("lang") == code:
        return
    with page.expect_navigation():
        page.get_by_role("button", name="English" if code == "en" else "한국어").click()
    assert page.locator("html").get_attribute("lang") == code, f"the language switch did not give {code}"


class AccessibilityError(AssertionError):
    """axe-core found WCAG 2.0/2.1 A or AA violations."""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (the WCAG 2.0/2.1 A and AA rules) on the page; its violations."""
    if not AXE_JS.exists():
        pytest.fail(
            f"{AXE_JS} is missing: run `bash -c 'IEUM_EXTRAS=dev source scripts/_setup.sh'` (npm install)"
        )
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # The app serves the same file; loading it by URL lets Chromium reuse its compiled code across pages
        # (several times faster than inlining 650 kB per page). Inline it if the URL does not answer.
        try:
            page.add_script_tag(url="/static/vendor/axe.min.js")
        except Exception:  # noqa: BLE001 (any failure to load by URL: fall back to the file itself)
            page.add_script_tag(path=str(AXE_JS))
    return list(
        page.evaluate(
            """async (tags) => {
             const r = await axe.run(document, {runOnly: tags});
             return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
               nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}));
           }""",
            AXE_TAGS,
        )
    )


def format_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """A readable block per violation: id, impact and help, then each offending node's target."""
    lines = [f"{where}: {len(violations)} axe violation(s)"]
    for v in violations:
        lines.append(f"  [{v['id']}] ({v['impact']}) {v['help']} — {v['helpUrl']}")
        for n in v["nodes"]:
            lines.append(f"      target: {json.dumps(n['target'], ensure_ascii=False)}")
            lines.append(f"        html: {n['html'][:200]}")
            if n.get("summary"):
                lines.append("        " + n["summary"].replace("\n", "\n        "))
    return "\n".join(lines)


def check_accessible(page: Any, where: str | None = None) -> None:
    """Fail, listing every violation's id, help and targets, if axe finds any on the current page."""
    violations = axe_violations(page)
    if violations:
        raise AccessibilityError(format_violations(where or page.url, violations))


# --- keyboard only ----------------------------------------------------------------------------------------


def is_focused(locator: Any) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def describe_focus(page: Any) -> str:
    return str(
        page.evaluate(
            "() => { const e = document.activeElement; return e ? e.outerHTML.slice(0, 160) : 'none'; }"
        )
    )


def tab_to(page: Any, target: Any, *, backwards: bool = False, max_presses: int = 80) -> None:
    """Press Tab (or Shift+Tab) until `target` has focus, and check the focus is visible there."""
    target.wait_for(state="attached")
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(max_presses):
        page.keyboard.press(key)
        if is_focused(target):
            assert_focus_visible(target)
            return
    raise AssertionError(f"{key} ×{max_presses} never reached {target}; focus is on {describe_focus(page)}")


def assert_focus_visible(target: Any) -> None:
    """WCAG 2.4.7: the keyboard focus is shown (the :focus-visible outline is drawn)."""
    style = target.evaluate(
        "el => { const s = getComputedStyle(el); return {visible: el.matches(':focus-visible'),"
        " outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; }"
    )
    drawn = (style["outline"] != "none" and style["width"] > 0) or style["shadow"] not in ("none", "")
    assert style["visible"] and drawn, f"no visible focus indicator on {target}: {style}"


def type_date(page: Any, order: str, value: str) -> None:
    """Type an ISO date into the focused <input type=date>, segment by segment, in the browser's order."""
    y, m, d = value.split("-")
    parts = {"y": y, "m": m, "d": d}
    for i, seg in enumerate(order):
        page.keyboard.type(parts[seg])
        # Two-digit month and day move on to the next segment by themselves; the (up to 6-digit) year does not.
        if seg == "y" and i < len(order) - 1:
            page.keyboard.press("ArrowRight")


def keyboard_login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in with the keyboard alone: skip link, then Tab through the form and press Enter."""
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=re.compile("본문 바로가기|Skip to (main )?content", re.I))
    assert is_focused(skip), f"the first Tab should reach the skip link, not {describe_focus(page)}"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main", "the skip link should move focus to <main>"
    tab_to(page, page.get_by_label(USERNAME_LABEL))
    page.keyboard.type(username)
    tab_to(page, page.get_by_label(PASSWORD_LABEL))
    page.keyboard.type(password)
    tab_to(page, page.get_by_role("button", name=LOGIN_BUTTON))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url, f"login as {username} failed"


def keyboard_set_locale(page: Any, code: str) -> None:
    """Switch language with the header button, reached by Tab and pressed with Enter (call it on a fresh page)."""
    if page.locator("html").get_attribute("lang") == code:
        return
    tab_to(page, page.get_by_role("button", name="English" if code == "en" else "한국어"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("html").get_attribute("lang") == code
