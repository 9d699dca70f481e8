"""Admin page: accounts, publication settings, keys, and the audit log."""

from __future__ import annotations

import streamlit as st

from dashboards.common import engine, plain, table_download
from dashboards.tableau_commun import require
from observatoire import accounts
from observatoire.model import ObservatoireError, Role

admin = require(Role.ADMIN)
st.title("Administration")
accounts_tab, settings_tab, keys, journal = st.tabs(
    ["Comptes", "Réglages", "Clés", "Journal d'audit"]
)

with accounts_tab:
    users = accounts.list_users(engine())
    st.dataframe(users.rename(columns={"login": "Identifiant", "display_name": "Nom",
                                       "role": "Rôle", "active": "Actif",
                                       "created_at": "Créé le"}),
                 hide_index=True, width="stretch")  # fmt: skip
    with st.form("nouveau_compte", clear_on_submit=True):
        st.markdown("**Nouveau compte**")
        cols = st.columns(2)
        login = cols[0].text_input("Identifiant (ou e-mail pour OIDC)")
        name = cols[1].text_input("Nom affiché")
        role = cols[0].selectbox("Rôle", ["staff", "admin", "monitoring"],
                                 format_func=lambda r: Role(r).label)  # fmt: skip
        password = cols[1].text_input("Mot de passe (12 caractères au moins ; vide pour OIDC)",
                                      type="password")  # fmt: skip
        if st.form_submit_button("Créer le compte"):
            try:
                accounts.create_user(engine(), login, name, role, password or None,
                                     actor=admin.login)  # fmt: skip
            except (ObservatoireError, ValueError) as exc:
                st.error(plain(exc))
            else:
                st.success(f"Compte {plain(login)} créé.")
    if not users.empty:
        with st.form("modifier_compte"):
            st.markdown("**Modifier un compte**")
            cols = st.columns(3)
            target = cols[0].selectbox("Compte", list(users["login"]))
            new_role = cols[1].selectbox("Rôle", ["—", "staff", "admin"])
            active = cols[2].selectbox("État", ["—", "actif", "désactivé"])
            new_password = st.text_input("Nouveau mot de passe (facultatif)", type="password")
            if st.form_submit_button("Appliquer"):
                try:
                    accounts.update_user(
                        engine(), target, actor=admin.login,
                        role=None if new_role == "—" else new_role,
                        active=None if active == "—" else active == "actif",
                        password=new_password or None,
                    )  # fmt: skip
                except ObservatoireError as exc:
                    st.error(plain(exc))
                else:
                    st.success(f"Compte {plain(target)} modifié.")
                    st.rerun()

with settings_tab:
    current = accounts.settings(engine())
    with st.form("reglages"):
        threshold = st.number_input("Seuil du secret statistique (effectif minimal publié)",
                                    min_value=1, max_value=100,
                                    value=int(current["publication.threshold"]))  # fmt: skip
        rounding = st.number_input("Arrondi des effectifs publiés (0 : aucun)", min_value=0,
                                   max_value=100, value=int(current["publication.rounding"]))
        if st.form_submit_button("Enregistrer les réglages"):
            accounts.save_settings(engine(), {"publication.threshold": int(threshold),
                                              "publication.rounding": int(rounding)},
                                   actor=admin.login)  # fmt: skip
            st.cache_data.clear()
            st.success("Réglages enregistrés (journal d'audit mis à jour).")

with keys:
    st.write(
        "La clé de pseudonymisation (HMAC) reste hors du domaine d'analyse : elle n'est ni "
        "stockée dans la base ni affichée ici."
    )
    st.write("Variables de clé présentes dans l'environnement du serveur : "
             + (", ".join(accounts.key_variables()) or "aucune"))  # fmt: skip

with journal:
    from observatoire.audit import ACTION_FAMILIES, readable_log

    prefix = st.selectbox("Actions", ["toutes", *ACTION_FAMILIES],
                          format_func=lambda f: "Toutes" if f == "toutes" else ACTION_FAMILIES[f],
                          key="journal_actions")
    log = accounts.audit_log(engine(), 300, None if prefix == "toutes" else prefix)
    shown = readable_log(log)
    st.dataframe(shown, hide_index=True, width="stretch")
    table_download(shown, "journal.csv", actions=prefix)
