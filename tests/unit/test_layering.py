"""Who may import whom: the app and the SFU share only ``contracts``.

``app/`` and ``courses/`` never import ``webrtc``; ``webrtc/`` never imports the app or its web and database
libraries; ``contracts/`` needs nothing but the standard library and PyJWT. Every import statement counts,
including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "app": {"webrtc"},
    "courses": {"webrtc"},
    "webrtc": {"app", "courses", "flask", "sqlalchemy"},
}
CONTRACTS_MAY_IMPORT = set(sys.stdlib_module_names) | {"contracts", "jwt"}


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every module an ordinary or relative import statement names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = [package, *path.relative_to(ROOT / package).with_suffix("").parts]
    if here[-1] == "__init__":
        here.pop()
    else:
        here.pop()  # a module's relative imports start from its package
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def violations(package: str) -> list[str]:
    """Every import in the package that its layer forbids, as ``path:line: name``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imported_modules(path, package):
            top = name.split(".")[0]
            if package == "contracts":
                bad = top not in CONTRACTS_MAY_IMPORT
            else:
                bad = top in FORBIDDEN[package] or (package == "webrtc" and top.startswith("flask_"))
            if bad:
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return found


@pytest.mark.parametrize("package", ["app", "courses", "webrtc", "contracts"])
def test_layers_import_only_what_they_may(package: str) -> None:
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_the_checker_sees_relative_and_nested_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "webrtc" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "webrtc" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(
        "from .. import ice\nfrom . import sibling\n"
        "def f():\n    from courses.live import x\n    import flask_login\n"
        "if TYPE_CHECKING:\n    import sqlalchemy.orm\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    names = [n for _, n in imported_modules(pkg / "mod.py", "webrtc")]
    assert names == ["webrtc", "webrtc.sub", "courses.live", "flask_login", "sqlalchemy.orm"]
    assert len(violations("webrtc")) == 3
