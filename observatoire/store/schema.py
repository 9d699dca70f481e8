"""The whole schema: every table module, imported so their tables join one `metadata`.

Alembic (``migrations/env.py``) and the schema test compare the migrations to this.
"""

from observatoire.store import (  # noqa: F401 - each import registers its tables
    access_tables,
    evaluation_tables,
    feeds_tables,
    indicators_tables,
    linkage_tables,
    survey_tables,
    tables,
)
from observatoire.store.tables import metadata

__all__ = ["metadata"]
