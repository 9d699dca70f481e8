"""Staff page: data quality of a count night and of the feeds (missing fields, warnings,
duplicates found, sectors not covered)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import table_download
from dashboards.tableau_commun import (
    NO_DATA,
    STAFF_ROLES,
    choose_territory,
    feed_counts,
    feed_version,
    filters,
    load_inputs,
    require,
)
from observatoire.formats_fr import count_fr, percent_fr, table_fr
from observatoire.indicators import campaign_coverage, campaign_profiles, load_catalogue
from observatoire.indicators.quality import night_warnings

require(*STAFF_ROLES)
catalogue = load_catalogue()
st.title("Qualité des données")
slug = choose_territory()
inputs, campaign_id, codes = filters(load_inputs(slug))
if campaign_id is None:
    st.info(f"Aucune nuit de comptage : {NO_DATA}.")
    st.stop()

observations = inputs.of_campaign("observations", campaign_id)
tiles = st.columns(4)
tiles[0].metric("Fiches de la nuit", count_fr(len(observations)))
already = (observations["situation"] == "already_answered").sum() if len(observations) else 0
tiles[1].metric("Doublons déclarés (« déjà répondu »)", count_fr(already))
records = feed_counts(slug, tuple(codes), feed_version())
if not records["records"]:
    tiles[2].metric("Doublons trouvés par le rapprochement", NO_DATA)
else:
    tiles[2].metric("Doublons trouvés par le rapprochement", count_fr(records["duplicates"]))
tiles[3].metric("Enregistrements partenaires",
                count_fr(records["records"]) if records["records"] else NO_DATA)  # fmt: skip

st.subheader("Champs manquants")
fields = {"sex": "Sexe", "age_band": "Tranche d'âge", "sleeping_place": "Lieu",
          "household": "Ménage", "homeless_duration": "Durée sans logement",
          "calls_115": "Appels au 115"}  # fmt: skip
if observations.empty:
    st.info(NO_DATA)
else:
    missing = pd.DataFrame(
        [(label, int(observations[c].isna().sum() + (observations[c].astype(str) == "").sum())
          if c in observations else len(observations)) for c, label in fields.items()],
        columns=["Champ", "Fiches sans réponse"],
    )  # fmt: skip
    missing["Part"] = (missing["Fiches sans réponse"] / len(observations)).map(
        lambda v: percent_fr(v, 0))  # fmt: skip
    st.dataframe(missing, hide_index=True, width="stretch")
    table_download(missing, f"champs-manquants-{campaign_id}.csv", territory=slug,
                   campaign_id=campaign_id)
    shares = campaign_profiles(inputs, campaign_id)
    shares["Indicateur"] = shares["indicator"].map(lambda i: catalogue[i].label)
    st.caption("Effectifs derrière chaque part du profil :")
    counts = shares[["Indicateur", "numerator", "denominator"]].rename(
        columns={"numerator": "Concernées", "denominator": "Réponses connues"})
    st.dataframe(table_fr(counts), hide_index=True, width="stretch")
    table_download(counts, f"effectifs-profil-{campaign_id}.csv", territory=slug,
                   campaign_id=campaign_id)

st.subheader("Avertissements")
# The same checks as the night's validation (`observatoire nuit validate`).
for text in night_warnings(inputs, campaign_id) or ["Aucun avertissement."]:
    st.write("• " + text)
coverage = campaign_coverage(inputs, campaign_id)

st.subheader("Secteurs non couverts")
if coverage.empty:
    st.info(NO_DATA)
else:
    names = dict(zip(inputs.communes["code"], inputs.communes["nom"], strict=True))
    shown = coverage.assign(
        commune=coverage["commune_code"].map(names),
        non_couverts=coverage["non_couverts"].map(lambda c: ", ".join(c) or "—"),
        couverture=coverage["couverture"].map(lambda v: percent_fr(v, 0)),
    )[["commune", "prevus", "parcourus", "sans_personne", "couverture", "non_couverts"]]
    shown = shown.rename(columns={"commune": "Commune", "prevus": "Secteurs prévus",
                                  "parcourus": "Parcourus", "sans_personne":
                                  "Sans personne rencontrée", "couverture": "Couverture",
                                  "non_couverts": "Secteurs non couverts"})  # fmt: skip
    st.dataframe(table_fr(shown), hide_index=True, width="stretch")
    table_download(shown, f"secteurs-non-couverts-{campaign_id}.csv", territory=slug,
                   campaign_id=campaign_id)
