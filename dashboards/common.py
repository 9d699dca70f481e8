"""What every page shares: the engine and the settings, cached for the app's lifetime."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from observatoire.config import Settings, load_settings
from observatoire.store.db import make_engine


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def engine() -> Engine:
    return make_engine(settings().database_url, settings().lock_wait)


@st.cache_data(ttl=300, show_spinner=False)
def territories() -> dict[str, str]:
    """Slug -> name of the territories stored in the database."""
    from observatoire.pipeline import territory_choices

    return territory_choices(engine())


def choose_territory(where=st, key: str | None = None) -> str:  # noqa: ANN001 - st or a container
    """The territory select box (the configured territory first), or a message and a stop
    when the database holds none yet."""
    from observatoire.model import ObservatoireError

    try:
        choices = territories()
    except ObservatoireError as exc:
        st.error(str(exc))
        st.stop()
    if not choices:
        st.warning(
            "La base ne contient encore aucun territoire. Lancez `observatoire demo` pour "
            "charger l'exemple, ou `observatoire territory import` pour votre territoire."
        )
        st.stop()
    slugs = list(choices)
    default = settings().default_territory
    return where.selectbox(
        "Territoire", slugs, index=slugs.index(default) if default in slugs else 0,
        format_func=choices.get, key=key,
    )  # fmt: skip
