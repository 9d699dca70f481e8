"""How long jobs report their progress: a callable given each message (`Progress`), and the
one that shows nothing (`quiet`, the default). The CLI passes one that writes on stderr."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_message: str) -> None:
    """The progress callable that shows nothing (the default)."""
