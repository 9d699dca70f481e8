"""How the de-duplicated estimate of distinct people reads, on every surface.

The terminal (`observatoire link`, the pipeline's progress), the staff tiles (dashboard,
indicators and review pages), the publication (page, HTML, XLSX) and the yearly report
all print the latest linkage run's figure through `estimate_text` (or its two halves,
`estimate_parts`, where a tile shows the number big and the interval under it): the same
number, the same interval, the same French words. The computation belongs to
`observatoire.linkage.estimate`; this module only reads its result.

    >>> estimate_text(PeopleFigure(2031, 1940, 2457))
    '2\u202f031 (intervalle à 90 % : 1\u202f940 à 2\u202f457)'
"""

from __future__ import annotations

from functools import lru_cache

from observatoire.indicators.dedup import DistinctEstimate, PeopleFigure

INTERVAL_LEVEL = 90
"""Level of the linkage run's interval (`observatoire.linkage.estimate`)."""


def number_text(value: float) -> str:
    """A count of people in French: thin non-breaking space between thousands."""
    return f"{int(round(float(value))):,}".replace(",", "\u202f")


def interval_text(low: float, high: float, level: int = INTERVAL_LEVEL) -> str:
    """``intervalle à 90 % : 1 940 à 2 457``: the one wording of an interval."""
    return f"intervalle à {level} % : {number_text(low)} à {number_text(high)}"


def _figure(estimate: PeopleFigure | DistinctEstimate) -> tuple[int, int, int]:
    people = estimate.estimate if isinstance(estimate, DistinctEstimate) else estimate.people
    return int(people), int(estimate.low), int(estimate.high)


def estimate_parts(estimate: PeopleFigure | DistinctEstimate) -> tuple[str, str]:
    """The number and its interval, apart (a tile's value and caption);
    ``f"{value} ({interval})"`` is `estimate_text`.

    ``estimate``: any figure with ``people`` (or ``estimate``), ``low`` and ``high`` (the
    linkage run's `observatoire.store.linkage_repository.PeopleFigure` too).
    """
    people, low, high = _figure(estimate)
    return number_text(people), interval_text(low, high)


def estimate_text(estimate: PeopleFigure | DistinctEstimate) -> str:
    """The de-duplicated estimate with its 90 % interval, as every surface prints it."""
    value, interval = estimate_parts(estimate)
    return f"{value} ({interval})"


HIDDEN_LEVEL = 95
"""Level of the multiple-systems estimate's interval (`observatoire.indicators.hidden`)."""
HIDDEN_LABEL = ("Personnes sans domicile estimées en tout, vues ou non par une source "
                "(estimation par systèmes multiples)")  # fmt: skip


def hidden_text(low: float, high: float) -> str:
    """The estimate of everybody as published: its interval only, never a bare point."""
    return interval_text(low, high, HIDDEN_LEVEL)


@lru_cache(maxsize=1)
def estimate_label() -> str:
    """The figure's name (the catalogue's ``distinct_people``), the same everywhere."""
    from observatoire.indicators.catalogue import load_catalogue

    return load_catalogue()["distinct_people"].label


__all__ = ["HIDDEN_LABEL", "HIDDEN_LEVEL", "INTERVAL_LEVEL", "estimate_label",
           "estimate_parts", "estimate_text", "hidden_text", "interval_text",
           "number_text"]  # fmt: skip
