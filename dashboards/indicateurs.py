"""Staff page: by-name-list flows month by month, the *Logement d'abord* indicators
with the convention's targets (set on the Convention page) and the distance to them, and
how many people in all (the iceberg: counted on the night, known to partners, estimated in
all)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards.common import engine, plain, table_download
from dashboards.tableau_commun import (
    NO_DATA,
    STAFF_ROLES,
    choose_territory,
    feed_flows,
    feed_plan_values,
    feed_version,
    load_inputs,
    require,
)
from observatoire.formats_fr import count_fr, french_figure, month_label_fr, table_fr
from observatoire.indicators import load_catalogue, plan_indicators
from observatoire.indicators.flows import (
    DEFAULT_INACTIVITY_DAYS,
    FLOW_LABELS,
    INACTIVITY_CHOICES,
    measured_flows,
)
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
    from observatoire.indicators.wording import interval_text

    return interval_text(*layer.interval, level=layer.level)


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
        tile.metric(layer.label, count_fr(layer.value), help=layer.title)
        tile.caption(("Estimation, " if layer.is_estimate else "") + _interval(layer))
    for warning in layers.warnings:
        st.warning(plain(warning))
    for layer in layers.layers:
        st.markdown(f"**{plain(layer.title)}** — {plain(layer.note)}")
    with st.expander("Sensibilité : chaque modèle, et le rapprochement lu bas ou haut"):
        st.dataframe(table_fr(layers.sensitivity, 3), hide_index=True, width="stretch")
        table_download(layers.sensitivity, "sensibilite-estimation.csv", territory=slug)


if section == ICEBERG:
    _show_iceberg()
elif section == FLOWS:
    st.subheader("Flux de la liste nominative, mois par mois")
    days = st.select_slider("Inactivité après (jours sans contact)", INACTIVITY_CHOICES,
                            value=DEFAULT_INACTIVITY_DAYS)  # fmt: skip
    monthly = measured_flows(feed_flows(slug, days, version))
    if monthly.empty:
        st.info(f"Flux : {NO_DATA} (aucun enregistrement partenaire rapproché).")
    else:
        def _drawn(values: pd.Series) -> list:
            # A month no partner file covers is a gap in the lines and bars (None), not 0.
            return [None if pd.isna(v) else float(v) for v in values]

        months = pd.to_datetime(monthly["mois"])
        figure = go.Figure()
        figure.add_bar(x=months, y=_drawn(monthly["entrees"]), name="Entrées")
        figure.add_bar(x=months, y=_drawn(-monthly["sorties"]), name="Sorties")
        figure.add_scatter(x=months, y=_drawn(monthly["actifs"]), name="Actifs",
                           mode="lines+markers", connectgaps=False)
        figure.update_layout(barmode="relative", height=340,
                             margin={"l": 0, "r": 0, "t": 10, "b": 0})  # fmt: skip
        st.plotly_chart(french_figure(figure), width="stretch")
        gaps = monthly.loc[monthly["actifs"].isna(), "mois"]
        if len(gaps):
            st.caption(f"Aucun fichier partenaire pour {count_fr(len(gaps))} mois "
                       f"({month_label_fr(gaps.iloc[0])} – {month_label_fr(gaps.iloc[-1])}) : "
                       "pas de données, laissées en blanc sur le graphique.")
        balanced = (monthly["ecart"].fillna(0) == 0).all()
        (st.success if balanced else st.error)(
            "Contrôle : actifs(t) = actifs(t-1) + entrées − sorties "
            + ("vérifié chaque mois." if balanced else "NON vérifié : voir la colonne Contrôle.")
        )
        st.dataframe(table_fr(monthly.assign(mois=monthly["mois"].map(month_label_fr)),
                              missing="pas de données").rename(columns=FLOW_LABELS),
                     hide_index=True, width="stretch")  # fmt: skip
        table_download(monthly.rename(columns=FLOW_LABELS), f"flux-{days}-jours.csv",
                       territory=slug, inactivity_days=days)  # fmt: skip
else:
    st.subheader("Indicateurs Logement d'abord et objectifs de la convention")
    inputs = load_inputs(slug)
    table = plan_indicators(inputs, feed_plan_values(slug, version))
    if table.empty:
        st.info(f"Indicateurs Logement d'abord : {NO_DATA}. Saisissez les valeurs "
                "ci-dessous, les objectifs sur la page Convention.")  # fmt: skip
    else:
        shown = table.assign(
            atteint=table["met"].map({True: "oui", False: "non"}).fillna("—"),
            ecart=table["distance"],
        )[["label", "year", "value", "target", "ecart", "atteint"]]
        shown = shown.assign(year=shown["year"].map(
            lambda y: "—" if pd.isna(y) else str(int(y)))).rename(columns={
            "label": "Indicateur", "year": "Année", "value": "Valeur", "target": "Objectif",
            "ecart": "Écart à l'objectif", "atteint": "Objectif atteint"})  # fmt: skip
        st.dataframe(table_fr(shown), hide_index=True, width="stretch")
        table_download(shown, "indicateurs-logement-d-abord.csv", territory=slug)

    plan_ids = [i.id for i in catalogue.in_group("logement_d_abord")]
    st.caption("Les objectifs sont ceux de la convention : fixez-les sur la page "
               "Convention (chaque révision est une nouvelle version datée).")
    with st.form("valeurs"):
        st.markdown("**Valeurs saisies** (places IML, pensions de famille, prévention des "
                    "expulsions : ce qu'aucun flux ne fournit)")  # fmt: skip
        cols = st.columns(3)
        indicator = cols[0].selectbox("Indicateur", plan_ids,
                                      format_func=lambda i: catalogue[i].label)  # fmt: skip
        year = cols[1].number_input("Année", 2000, 2100, value=pd.Timestamp.now().year - 1)
        value = cols[2].number_input("Valeur", min_value=0.0, step=1.0)
        if st.form_submit_button("Enregistrer la valeur"):
            from observatoire.evaluation.figures import enter_figure

            enter_figure(engine(), slug, indicator, int(year), value, actor=user.login,
                         source="saisie")
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
