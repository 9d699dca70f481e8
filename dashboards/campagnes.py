"""Staff: create a campaign, cut or upload its sectors, print team sheets, open it, switch
training mode, close (lock) it, validate and publish it."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards.common import choose_territory, download, engine, plain
from dashboards.tableau_commun import STAFF_ROLES, require
from observatoire import nights, territory
from observatoire.countnight import lifecycle, sector_files, team_sheets
from observatoire.formats_fr import count_fr
from observatoire.formula import frame_to_csv
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.survey import list_questionnaires


@st.cache_data(ttl=30, max_entries=8, show_spinner="Contrôles de qualité de la nuit…")
def _quality_problems(campaign_id: int) -> list[str]:
    return nights.quality_problems(engine(), campaign_id)


# Every action is logged under the signed-in person, and the page refuses anyone else even
# when opened by its address.
ACTOR = require(*STAFF_ROLES).login

st.title("Campagnes de comptage")
slug = choose_territory()

with st.expander("Nouvelle campagne"), st.form("new_campaign"):
    name = st.text_input("Nom", value=f"Nuit de la Solidarité {dt.date.today().year}")
    night = st.date_input("Date de la nuit", value=dt.date.today(), format="DD/MM/YYYY")
    version = st.selectbox("Questionnaire", list_questionnaires())
    mode = st.radio("Secteurs", ["Grille découpée sur les communes", "Fichier de polygones"])
    size = st.number_input("Côté des secteurs (mètres)", 200, 5000, 800, step=100)
    upload = st.file_uploader("Polygones (GeoJSON ou GeoPackage)", type=["geojson", "json",
                                                                        "gpkg"])
    teams = st.number_input(
        "Nombre d'équipes", 0, 2000, lifecycle.proposed_team_count(engine(), slug),
        help=f"Proposé : une équipe pour {count_fr(lifecycle.INHABITANTS_PER_TEAM)} "
             "habitants. Chaque équipe reçoit des secteurs "
             "voisins d'une même commune ; tous les secteurs ont une équipe. 0 : une équipe "
             "par secteur.")
    if st.form_submit_button("Créer la campagne", type="primary"):
        try:
            sectors = None
            if mode == "Fichier de polygones":
                if upload is None:
                    raise ObservatoireError("Choisissez un fichier de polygones.")
                sectors = sector_files.read_sector_file(upload, territory.communes(engine(), slug))
            campaign_id = lifecycle.create_campaign(
                engine(), slug, name, night, questionnaire_version=version, sectors=sectors,
                sector_size_m=float(size), n_teams=int(teams) or None, actor=ACTOR,
            )
        except ObservatoireError as exc:
            st.error(plain(exc))
        else:
            st.success(f"Campagne créée (n°{campaign_id}).")

campaigns = {c.id: c for c in territory.campaigns(engine(), slug)}
if not campaigns:
    st.info("Aucune campagne sur ce territoire.")
    st.stop()
campaign_id = st.selectbox("Campagne", list(campaigns), format_func=lambda i: campaigns[i].label)
campaign = campaigns[campaign_id]
options = lifecycle.campaign_options(engine(), campaign_id)

cols = st.columns(4)
cols[0].metric("Statut", campaign.status.label)
cols[1].metric("Mode entraînement", "oui" if options["training"] else "non")
cols[2].metric("Fiches d'entraînement", options["practice_entries"])
if options["locked_at"]:
    cols[3].metric("Verrouillée le", f"{options['locked_at']:%d/%m %H:%M}")

locked = campaign.status.frozen
actions = st.columns(4)
if actions[0].button("Ouvrir la saisie", disabled=locked or campaign.status is CampaignStatus.OPEN):
    lifecycle.open_campaign(engine(), campaign_id, ACTOR)
    st.rerun()
if actions[1].button("Désactiver l'entraînement" if options["training"]
                     else "Activer l'entraînement", disabled=locked):
    lifecycle.set_training(engine(), campaign_id, not options["training"], ACTOR)
    st.rerun()
if actions[2].button("Effacer les fiches d'entraînement", disabled=not options["practice_entries"]):
    lifecycle.purge_practice(engine(), campaign_id, ACTOR)
    st.rerun()
confirm = actions[3].checkbox("Je confirme le verrouillage", disabled=locked)
if actions[3].button("Verrouiller la campagne", disabled=locked or not confirm):
    lifecycle.lock_campaign(engine(), campaign_id, ACTOR)
    st.rerun()

st.subheader("Validation et publication")
st.caption("Une nuit n'est publique qu'une fois publiée : close par la coordination "
           "(verrouillage ci-dessus), validée par l'équipe, puis publiée.")
steps = st.columns(2)
closed = campaign.status is CampaignStatus.LOCKED
# The checks of the quality page, run for the validation (`observatoire nuit validate`).
problems = _quality_problems(campaign_id) if closed else []
sign_off = None
if problems:
    steps[0].warning("Panneau de qualité : " + " ".join(f"• {plain(p)}" for p in problems))
    if steps[0].checkbox("Je signe ces anomalies : les chiffres restent publiables"):
        sign_off = steps[0].text_input("Commentaire (inscrit au journal)",
                                       key="campagnes_commentaire_anomalies")
elif closed:
    steps[0].caption("Panneau de qualité : aucune anomalie.")
try:
    if steps[0].button("Valider la nuit", disabled=not closed
                       or bool(problems and not (sign_off or "").strip())):
        nights.validate_night(engine(), campaign_id, ACTOR, sign_off=sign_off)
        st.rerun()
    published = campaign.status is CampaignStatus.PUBLISHED
    with_hidden = steps[1].checkbox(
        "Publier aussi l'estimation de la population totale (en intervalle)",
        help="Estimation par systèmes multiples sur les sources rapprochées ; refusée si "
        "les données ne la soutiennent pas.")  # fmt: skip
    if steps[1].button("Publier une correction" if published else "Publier la nuit",
                       disabled=not published
                       and campaign.status is not CampaignStatus.VALIDATED):
        with st.spinner("Protection des chiffres et contrôle par différence…"):
            nights.publish_night(engine(), campaign_id, ACTOR,
                                 with_hidden_estimate=with_hidden)  # fmt: skip
        st.cache_data.clear()
        st.rerun()
except ObservatoireError as exc:
    st.error(plain(exc))
history = nights.version_history(engine(), campaign_id)
if not history.empty:
    st.dataframe(history.rename(columns={"version": "Version", "publiee_le": "Publiée le",
                                         "auteur": "Auteur", "note": "Note"}),
                 hide_index=True, width="stretch")  # fmt: skip

st.subheader("Équipes et fiches d'équipe")
sheet = team_sheets.team_sheets_table(engine(), campaign_id)
st.dataframe(sheet.rename(columns={"team_code": "Code d'équipe", "team_name": "Équipe",
                                   "sector_code": "Secteur", "commune_code": "Code commune",
                                   "commune": "Commune"}),
             hide_index=True, width="stretch")
# Built on the click only, and audited then: the team codes open the night's entry.
database = engine()  # the file is built outside the page's run: no Streamlit call in it
download("Fiches d'équipe à imprimer (HTML)",
         lambda: team_sheets.team_sheets_html(database, campaign_id),
         file_name=f"fiches-equipes-{campaign_id}.html", mime="text/html",
         kind="team_sheets", campaign_id=campaign_id)
# The team names are typed by staff: formulas escaped (`observatoire.formula`).
download("Équipes et secteurs (CSV)", lambda: frame_to_csv(sheet),
         file_name=f"equipes-{campaign_id}.csv", mime="text/csv", kind="team_codes",
         campaign_id=campaign_id)
