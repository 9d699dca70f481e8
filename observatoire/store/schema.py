"""The whole schema: every table module, imported so their tables join one `metadata`.

Alembic (``migrations/env.py``) and the schema test compare the migrations to this.
"""

from observatoire.store import tables  # noqa: F401 - registers the core tables
from observatoire.store.tables import metadata

__all__ = ["metadata"]
