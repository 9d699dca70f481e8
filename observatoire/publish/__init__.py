"""Publication for officials: disclosure control, figures, static exports."""

from observatoire.publish.disclosure import (
    DEFAULT_THRESHOLD,
    DisclosureRules,
    protect_counts,
    protect_share,
    suppression_pattern,
)
from observatoire.publish.report import Publication, build_publication, published_cells

__all__ = [
    "DEFAULT_THRESHOLD",
    "DisclosureRules",
    "Publication",
    "build_publication",
    "protect_counts",
    "protect_share",
    "published_cells",
    "suppression_pattern",
]
