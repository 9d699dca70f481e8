"""The app as served in production: ``streamlit_app.py`` behind the HTTP security headers
of `observatoire.web`, its downloads served only to the browser that asked for them
(``streamlit run serve.py`` runs it in Streamlit's ASGI mode; ``observatoire app`` and
``observatoire demo`` do)."""

import streamlit as st
from starlette.middleware import Middleware

from observatoire.web import DownloadsForTheirBrowser, SecurityHeaders

app = st.App(
    "streamlit_app.py",
    middleware=[Middleware(SecurityHeaders), Middleware(DownloadsForTheirBrowser)],
)
