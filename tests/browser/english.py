"""Streamlit's English texts, as a browser test looks for them on a drawn page (issue 15):
the texts the browser writes by itself, which `dashboards.francais` replaces."""

from __future__ import annotations

ENGLISH = ("Upload", "200MB per file", "Drag and drop", "Press Enter", "Choose an option",
           "Browse files", "Help for")


def english_texts(page) -> list[str]:  # noqa: ANN001 - playwright's Page
    """The `ENGLISH` texts the page shows, in its text or in its labels, placeholders and
    tooltips (read aloud by screen readers)."""
    body = page.locator("body").inner_text()
    labels = page.evaluate("""() => [...document.querySelectorAll(
        '[aria-label],[placeholder],[title]')]
        .flatMap(e => ['aria-label', 'placeholder', 'title'].map(a => e.getAttribute(a)))
        .filter(Boolean).join('\\n')""")
    return [word for word in ENGLISH if word in body or word in labels]
