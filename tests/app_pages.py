"""The app's pages as its navigation declares them (``PAGES`` of streamlit_app.py), read
without running the app: for tests that must cover every page."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pages() -> dict[str, list[tuple[str, str, str]]]:
    """Section -> ``(script, title, icon)`` of every page, in the navigation's order."""
    tree = ast.parse((REPO / "streamlit_app.py").read_text(encoding="utf-8"))
    value = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "PAGES" for t in node.targets))
    return ast.literal_eval(value)


def sections() -> dict[str, list[str]]:
    """Section -> scripts, as `observatoire.access.navigation_plan` reads them."""
    return {section: [path for path, _, _ in entries] for section, entries in pages().items()}


def titles() -> dict[str, str]:
    """Script -> the title of its link in the navigation."""
    return {path: title for entries in pages().values() for path, title, _ in entries}
