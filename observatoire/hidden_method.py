"""The method note of the hidden-population estimate (`observatoire.indicators.hidden`).

Pure text, defined once: the pages, the report and ``observatoire estimate hidden --help``
print it, and the command line's help must not import pandas to do so.
"""

from __future__ import annotations

ASSUMPTIONS = (
    "population close sur la période couverte par les sources",
    "pas de sur-couverture : chaque personne du tableau appartient à la population",
    "dépendance entre sources représentée par les interactions du modèle retenu ; "
    "l'interaction de plus haut ordre est supposée nulle",
    "hétérogénéité de repérage prise en compte par les strates et, quand le critère la "
    "retient, par une colonne d'hétérogénéité (forme de Poisson ou de Darroch) ; la "
    "dispersion que le modèle n'explique pas élargit l'intervalle (facteur ĉ)",
)

# The method note of every surface that shows the estimate (staff page, publication, the
# command's help).
HIDDEN_NOTE = (
    "Estimation par systèmes multiples (capture-recapture) : les recoupements entre les "
    "sources (qui a été vu par quelles sources) permettent d'estimer combien de personnes "
    "aucune source n'a vues, comme le fait Statistics Netherlands pour ses chiffres "
    "officiels. Des modèles log-linéaires de Poisson (effets de chaque source et "
    "interactions entre sources dépendantes, choisis par BIC) sont ajustés sur le tableau "
    "des recoupements ; l'intervalle à 95 % est un bootstrap qui rééchantillonne les "
    "recoupements observés (et la case des personnes non vues que prévoit le modèle "
    "retenu), choisit de nouveau le modèle sur chaque réplication et répartit les "
    "réplications entre les tirages des liens incertains du rapprochement, de sorte qu'il "
    "tient compte du choix du modèle et de l'incertitude du rapprochement ; il est élargi "
    "quand les recoupements sont plus dispersés que le modèle ne le prévoit. Hypothèses : "
    + " ; ".join(ASSUMPTIONS) + "."
)
