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
    return make_engine(settings().database_url)
