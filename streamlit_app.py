"""Entry point of the Streamlit app: navigation only; pages live in ``dashboards/``."""

import streamlit as st

st.set_page_config(
    page_title="Observatoire du sans-abrisme",
    page_icon="🏠",
    layout="wide",
)

pages = {
    "Observatoire": [
        st.Page("dashboards/accueil.py", title="Accueil", icon=":material/map:", default=True),
    ],
}
st.navigation(pages).run()
