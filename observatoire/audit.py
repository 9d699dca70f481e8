"""The audit log's vocabulary: every action the toolkit records, with its French label, and
the French words of its details, defined once for the Administration page and the CLI."""

from __future__ import annotations

from typing import Any

import pandas as pd

from observatoire.formats_fr import number_fr

ACTION_FAMILIES: dict[str, str] = {
    "campaign": "Campagnes (nuits de décompte)",
    "countnight": "Données des nuits (purge)",
    "linkage": "Rapprochement des fiches",
    "publish": "Publications",
    "export": "Exports et téléchargements",
    "feed": "Fichiers des partenaires",
    "indicator": "Indicateurs et objectifs",
    "sample": "Échantillon synthétique",
    "user": "Comptes",
    "login": "Connexions",
    "setting": "Réglages",
    "team_code": "Codes d'équipe",
}
"""The families of actions (the part before the first dot), as the page's filter offers them."""

ACTION_LABELS: dict[str, str] = {
    "campaign.create": "Campagne créée",
    "campaign.open": "Campagne ouverte à la saisie",
    "campaign.lock": "Campagne verrouillée",
    "campaign.training": "Mode entraînement changé",
    "campaign.purge_practice": "Fiches d'entraînement effacées",
    "campaign.validate": "Nuit validée",
    "campaign.publish": "Nuit publiée",
    "countnight.purge": "Fiches des nuits anciennes effacées",
    "linkage.run": "Rapprochement calculé",
    "linkage.decision": "Décision de rapprochement",
    "linkage.split": "Personne séparée",
    "publish.export": "Publication exportée",
    "feed.import": "Fichier partenaire importé",
    "feed.import.refused": "Fichier partenaire refusé",
    "feed.purge": "Fiches partenaires anciennes effacées",
    "feed.undo": "Import annulé",
    "sample.build": "Échantillon construit",
    "sample.history": "Historique de l'échantillon ajouté",
    "user.create": "Compte créé",
    "user.update": "Compte modifié",
    "login": "Connexion",
    "login.oidc": "Connexion (OIDC)",
    "login.failed": "Connexion refusée",
    "login.locked": "Connexion bloquée (trop d'essais)",
    "login.team": "Connexion d'équipe",
    "login.team_failed": "Code d'équipe refusé",
    "login.team_locked": "Code d'équipe bloqué (trop d'essais)",
    "setting.update": "Réglage modifié",
    "team_code.access": "Page ouverte avec un code d'équipe",
}
"""Every action recorded under a fixed name; ``export.<kind>`` and ``indicator.<column>``
are named after their family (see `action_label`)."""

DETAIL_LABELS: dict[str, str] = {
    "campaign_id": "campagne", "campaign": "campagne", "campaigns": "campagnes",
    "sectors": "secteurs", "teams": "équipes", "team": "équipe", "team_code": "code d'équipe",
    "training": "entraînement", "quality_signed_off": "qualité visée",
    "published_at": "publiée le", "page": "page", "territory": "territoire",
    "client": "poste", "version": "version", "login": "identifiant", "role": "rôle",
    "display_name": "nom affiché", "format": "format", "fingerprint": "empreinte",
    "file": "fichier", "files": "fichiers", "threshold": "seuil", "rounding": "arrondi",
    "retention_days": "conservation (jours)", "partner": "partenaire",
    "import_id": "import", "cutoff": "avant le", "year": "année", "records": "fiches",
    "persons": "personnes", "person": "personne", "review_pairs": "paires à revoir",
    "record_a": "fiche A", "record_b": "fiche B", "decision": "décision",
    "moved": "fiches déplacées", "removed": "effacées", "kept": "gardées",
    "reason": "motif", "errors": "erreurs", "key": "réglage", "before": "avant",
    "after": "après", "indicator": "indicateur", "author": "auteur", "rows": "lignes",
    "liens_supprimes": "liens supprimés", "name": "nom", "kind": "type",
}  # fmt: skip
"""The French words of the details' keys; a key not listed is shown with spaces."""


def action_label(action: str) -> str:
    """``campaign.lock`` -> ``Campagne verrouillée``; an action of a known family that has no
    label of its own (``export.table``) -> its family's label and its last word."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    family, _, rest = action.partition(".")
    if family in ACTION_FAMILIES:
        return f"{ACTION_FAMILIES[family]} : {rest.replace('_', ' ')}" if rest else \
            ACTION_FAMILIES[family]
    return action


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        return number_fr(value, 2)
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_key_text(k)} {_value_text(v)}" for k, v in value.items())
    return str(value)


def _key_text(key: str) -> str:
    return DETAIL_LABELS.get(key, key.replace("_", " "))


def details_text(details: Any) -> str:
    """An entry's details as one line of French (``campagne : 3 ; secteurs : 120``), empty
    values left out; always text (a column of dicts whose keys differ from row to row cannot
    be typed by pyarrow)."""
    if details is None:
        return ""
    if not isinstance(details, dict):
        return str(details)
    return " ; ".join(f"{_key_text(key)} : {_value_text(value)}"
                      for key, value in details.items()
                      if value not in (None, "", [], {}))  # fmt: skip


def readable_log(log: pd.DataFrame) -> pd.DataFrame:
    """`access.audit_log`'s entries as the page shows them: Date, Auteur, Action (its label),
    Détails (one line of text)."""
    return pd.DataFrame({
        "Date": pd.to_datetime(log["at"]).dt.strftime("%d/%m/%Y %H:%M:%S"),
        "Auteur": log["actor"].astype(str),
        "Action": log["action"].map(action_label).astype(str),
        "Détails": log["details"].map(details_text).astype(str),
    })  # fmt: skip
