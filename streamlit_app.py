"""Entry point of the Streamlit app: navigation only; pages live in ``dashboards/``.

Each role sees its own pages (rules in `observatoire.access.PAGE_ACCESS`): the public and
officials the published pages, volunteers the count-night entry pages, staff the staff
pages, admins also the admin pages. A page a role may not open is left out of the
navigation, so Streamlit cannot route to it. New pages are staff-only unless a rule says
otherwise.
"""

from pathlib import PurePosixPath

import streamlit as st

from dashboards.common import signed_in_user
from dashboards.francais import french_interface
from observatoire.access import navigation_plan, refused_page_notice, refused_pages

st.set_page_config(
    page_title="Observatoire du sans-abrisme",
    page_icon="🏠",
    layout="wide",
)
french_interface()  # lang="fr", and Streamlit's own English texts in French

# Section -> (script, title, icon). The first page is the default one.
PAGES = {
    "Observatoire": [
        ("dashboards/accueil.py", "Accueil", ":material/map:"),
        ("dashboards/publication.py", "Carte publiée", ":material/public:"),
    ],
    "Indicateurs": [
        ("dashboards/tableau.py", "Tableau de bord", ":material/dashboard:"),
        ("dashboards/indicateurs.py", "Flux et Logement d'abord", ":material/trending_down:"),
        ("dashboards/tableau_qualite.py", "Qualité des données", ":material/rule:"),
        ("dashboards/revue.py", "Revue des doublons", ":material/compare_arrows:"),
    ],
    "Évaluation de la convention": [
        ("dashboards/rapport.py", "Rapport d'exécution", ":material/summarize:"),
        ("dashboards/convention.py", "Convention", ":material/handshake:"),
        ("dashboards/chiffres.py", "Chiffres saisis", ":material/edit_square:"),
    ],
    "Nuit de comptage": [
        ("dashboards/saisie.py", "Saisie (tablette)", ":material/edit_note:"),
        ("dashboards/terrain.py", "Chef d'équipe", ":material/fact_check:"),
        ("dashboards/campagnes.py", "Campagnes", ":material/event:"),
        ("dashboards/couverture.py", "Couverture en direct", ":material/radar:"),
    ],
    "Administration": [
        ("dashboards/admin.py", "Comptes et réglages", ":material/admin_panel_settings:"),
    ],
    "Compte": [
        ("dashboards/connexion.py", "Connexion", ":material/login:"),
    ],
}
DEFAULT_PAGE = "dashboards/accueil.py"

user = signed_in_user()
titles = {path: (title, icon) for pages in PAGES.values() for path, title, icon in pages}
sections = {section: [path for path, _, _ in pages] for section, pages in PAGES.items()}
plan = navigation_plan(user.role, sections)


def _refused(title: str):  # noqa: ANN202 - a page function
    def page() -> None:
        st.warning(refused_page_notice(user.role, title), icon=":material/lock:")
        if user.role.value == "public":
            st.page_link("dashboards/connexion.py", label="Se connecter",
                         icon=":material/login:")  # fmt: skip

    return page


# A page the role may not open keeps its address, routed to a stand-in that says why.
stand_ins = [
    st.Page(_refused(titles[path][0]), title=titles[path][0], url_path=PurePosixPath(path).stem,
            visibility="hidden")
    for path in refused_pages(user.role, sections)
]  # fmt: skip
navigation = {
    section: [
        st.Page(
            path,
            title=titles[path][0],
            icon=titles[path][1],
            default=path == DEFAULT_PAGE,
            visibility=visibility,
        )
        for path, visibility in entries
    ]
    for section, entries in plan.items()
}
# A team code in the address is only a claim (checked by the entry and sign-in pages): a
# volunteer is shown as signed in once this session accepted the code.
claimed = user.role.value == "volunteer" and st.session_state.get("team_code") != user.team_code
if user.role.value != "public" and not claimed:
    from dashboards.common import plain

    st.sidebar.caption(f"Connecté : {plain(user.display_name)} ({user.role.label})")
if stand_ins:
    navigation.setdefault("Compte", []).extend(stand_ins)
st.navigation(navigation, expanded=True).run()  # every page listed (no "View more")
