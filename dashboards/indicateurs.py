"""Staff page: by-name-list flows month by month, the *Logement d'abord* indicators
with the convention's targets (editable) and the distance to them, and how many people in
all (the iceberg: counted on the night, known to partners, estimated in all)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.orm import Session

from dashboards.common import engine, plain
from dashboards.tableau_commun import (
    NO_DATA,
    STAFF_ROLES,
    choose_territory,
    feed_flows,
    feed_plan_values,
    feed_version,
    fmt_int,
    load_inputs,
    require,
)
from observatoire.indicators import load_catalogue, plan_indicators
from observatoire.indicators.flows import DEFAULT_INACTIVITY_DAYS, FLOW_LABELS, INACTIVITY_CHOICES
from observatoire.model import ObservatoireError

user = require(*STAFF_ROLES)
catalogue = load_catalogue()
st.title("Flux et indicateurs Logement d'abord")
slug = choose_territory()


PLAN, FLOWS = "Logement d'abord et objectifs", "Flux de la liste nominative"
ICEBERG = "Combien de personnes en tout"
# Only the section shown is computed: the flows read every linked partner record, and the
# estimate in all refits its models on every bootstrap replicate.
section = st.radio("Afficher", [PLAN, FLOWS, ICEBERG], horizontal=True,
                   key="indicateurs_section")
version = feed_version()


@st.cache_data(ttl=3600, max_entries=4, show_spinner="Estimation de la population cachée…")
def _iceberg(territory_slug: str, version: tuple[int, ...]):
    from observatoire.indicators.hidden_service import iceberg

    return iceberg(engine(), territory_slug)


def _interval(layer) -> str:
    if layer.interval is None:
        return "décompte (sans marge : c'est un minimum)"
    low, high = layer.interval
    return f"intervalle à {layer.level} % : {fmt_int(low)} – {fmt_int(high)}"


def _show_iceberg() -> None:
    st.subheader("Combien de personnes en tout : du décompte à l'estimation")
    try:
        layers = _iceberg(slug, version)
    except ObservatoireError as exc:
        st.error(plain(exc))
        return
    if layers is None:
        st.info("Estimation de la population totale : aucune personne rapprochée dans la "
                "base (importez les fichiers partenaires puis lancez le rapprochement). "
                f"Couches de l'iceberg : {NO_DATA}.")  # fmt: skip
        return
    if layers.night_name:
        st.caption(f"Nuit : {plain(layers.night_name)} ({layers.night_date:%d/%m/%Y}) ; "
                   f"sources de l'estimation : {plain(', '.join(layers.sources))}.")
    tiles = st.columns(len(layers.layers))
    for tile, layer in zip(tiles, layers.layers, strict=True):
        tile.metric(layer.label, fmt_int(layer.value), help=layer.title)
        tile.caption(("Estimation, " if layer.is_estimate else "") + _interval(layer))
    for warning in layers.warnings:
        st.warning(plain(warning))
    for layer in layers.layers:
        st.markdown(f"**{plain(layer.title)}** — {plain(layer.note)}")
    with st.expander("Sensibilité : chaque modèle, et le rapprochement lu bas ou haut"):
        st.dataframe(layers.sensitivity, hide_index=True, width="stretch")


if section == ICEBERG:
    _show_iceberg()
elif section == FLOWS:
    st.subheader("Flux de la liste nominative, mois par mois")
    days = st.select_slider("Inactivité après (jours sans contact)", INACTIVITY_CHOICES,
                            value=DEFAULT_INACTIVITY_DAYS)  # fmt: skip
    monthly = feed_flows(slug, days, version)
    if monthly.empty:
        st.info(f"Flux : {NO_DATA} (aucun enregistrement partenaire rapproché).")
    else:
        figure = go.Figure()
        figure.add_bar(x=monthly["mois"], y=monthly["entrees"], name="Entrées")
        figure.add_bar(x=monthly["mois"], y=-monthly["sorties"], name="Sorties")
        figure.add_scatter(x=monthly["mois"], y=monthly["actifs"], name="Actifs",
                           mode="lines+markers")
        figure.update_layout(barmode="relative", height=340,
                             margin={"l": 0, "r": 0, "t": 10, "b": 0})  # fmt: skip
        st.plotly_chart(figure, width="stretch")
        balanced = (monthly["ecart"] == 0).all()
        (st.success if balanced else st.error)(
            "Contrôle : actifs(t) = actifs(t-1) + entrées − sorties "
            + ("vérifié chaque mois." if balanced else "NON vérifié : voir la colonne Contrôle.")
        )
        st.dataframe(monthly.rename(columns=FLOW_LABELS), hide_index=True, width="stretch")
else:
    st.subheader("Indicateurs Logement d'abord et objectifs de la convention")
    inputs = load_inputs(slug)
    table = plan_indicators(inputs, feed_plan_values(slug, version))
    if table.empty:
        st.info(f"Indicateurs Logement d'abord : {NO_DATA}. Saisissez les valeurs et les "
                "objectifs ci-dessous.")  # fmt: skip
    else:
        shown = table.assign(
            atteint=table["met"].map({True: "oui", False: "non"}).fillna("—"),
            ecart=table["distance"],
        )[["label", "year", "value", "target", "ecart", "atteint"]]
        from dashboards.francais import table_fr

        st.dataframe(table_fr(shown.assign(year=shown["year"].map(
            lambda y: "—" if y != y or y is None else str(int(y))))).rename(columns={
            "label": "Indicateur", "year": "Année", "value": "Valeur", "target": "Objectif",
            "ecart": "Écart à l'objectif", "atteint": "Objectif atteint"}),
            hide_index=True, width="stretch")  # fmt: skip

    plan_ids = [i.id for i in catalogue.in_group("logement_d_abord")] + ["a_minima_total"]
    with st.form("objectifs"):
        st.markdown("**Objectifs de la convention** (modifiables par l'équipe)")
        targets = inputs.targets.reindex(columns=["indicator_id", "year", "target", "convention"])
        edited = st.data_editor(
            targets, num_rows="dynamic", hide_index=True, width="stretch", key="objectifs_table",
            column_config={
                "indicator_id": st.column_config.SelectboxColumn(
                    "Indicateur", options=plan_ids, required=True),
                "year": st.column_config.NumberColumn("Année", min_value=2000, max_value=2100,
                                                      step=1, required=True),
                "target": st.column_config.NumberColumn("Objectif", required=True),
                "convention": st.column_config.TextColumn("Convention"),
            },
        )  # fmt: skip
        if st.form_submit_button("Enregistrer les objectifs"):
            from observatoire.store.indicators_repository import replace_targets

            try:
                with Session(engine()) as session, session.begin():
                    saved = replace_targets(session, slug, edited, actor=user.login)
            except ObservatoireError as exc:
                st.error(plain(exc))
            else:
                load_inputs.clear()
                st.success(f"{saved} objectif(s) enregistré(s) (journal d'audit mis à jour).")

    with st.form("valeurs"):
        st.markdown("**Valeurs saisies** (places IML, pensions de famille, prévention des "
                    "expulsions : ce qu'aucun flux ne fournit)")  # fmt: skip
        cols = st.columns(3)
        indicator = cols[0].selectbox("Indicateur", plan_ids[:-1],
                                      format_func=lambda i: catalogue[i].label)  # fmt: skip
        year = cols[1].number_input("Année", 2000, 2100, value=pd.Timestamp.now().year - 1)
        value = cols[2].number_input("Valeur", min_value=0.0, step=1.0)
        if st.form_submit_button("Enregistrer la valeur"):
            from observatoire.store.indicators_repository import set_value

            with Session(engine()) as session, session.begin():
                set_value(session, slug, indicator, int(year), value, actor=user.login,
                          source="saisie")  # fmt: skip
            load_inputs.clear()
            st.success("Valeur enregistrée.")

with st.expander("Catalogue des indicateurs"):
    st.dataframe(
        pd.DataFrame([{"Identifiant": i.id, "Indicateur": i.label, "Définition": i.definition,
                       "Unité": i.unit, "Source": i.source, "Formule": i.formula,
                       "Sens souhaité": {"down": "baisse", "up": "hausse", "none": "—"}[i.good],
                       "Priorité du plan": i.priority_label} for i in catalogue.values()]),
        hide_index=True, width="stretch",
    )  # fmt: skip
