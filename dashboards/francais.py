"""The app in French down to the texts Streamlit writes itself.

Streamlit has no language setting: its web page says ``<html lang="en">`` and its widgets
write English texts in the browser ("Press Enter to apply", "Choose an option", the file
uploader's "Upload", "Drag and drop a file here", "200MB per file"...), texts that no
widget option changes. The navigation mounts `french_interface` once per run: a component
without a frame (``st.components.v2``, no network) that sets ``lang="fr"`` and replaces those
texts as Streamlit draws them (`BROWSER_TEXTS`, `BROWSER_PATTERNS`). Pages still give French
texts where an option exists (`PLACEHOLDER` for select boxes with no choice yet).
"""

from __future__ import annotations

import json

import streamlit as st

PLACEHOLDER = "Choisissez…"
"""What a select box or multiselect shows before a choice (Streamlit: "Choose an option")."""

BROWSER_TEXTS: dict[str, str] = {
    # Text inputs and forms (InputInstructions).
    "Press Enter to apply": "Entrée pour valider",
    "Press Enter to submit form": "Entrée pour envoyer",
    "Press Ctrl+Enter to apply": "Ctrl+Entrée pour valider",
    "Press ⌘+Enter to apply": "⌘+Entrée pour valider",
    "Press Ctrl+Enter to submit form": "Ctrl+Entrée pour envoyer",
    "Press ⌘+Enter to submit form": "⌘+Entrée pour envoyer",
    # Select boxes and multiselects.
    "Choose an option": PLACEHOLDER,
    "Choose options": PLACEHOLDER,
    "No options to select": "Aucun choix possible",
    "No results": "Aucun résultat",
    # File uploader.
    "Upload": "Choisir un fichier",
    "Add files": "Ajouter des fichiers",
    "Drag and drop a file here": "Glissez-déposez un fichier ici",
    "Drag and drop files here": "Glissez-déposez des fichiers ici",
    # Status and menu of the page.
    "Running...": "Calcul en cours…",
    "Stop": "Arrêter",
    "Rerun": "Relancer",
    "Settings": "Réglages",
    "Print": "Imprimer",
    "About": "À propos",
    "Clear cache": "Vider le cache",
    "Record a screencast": "Enregistrer l'écran",
    "Connecting": "Connexion…",
    "Please wait...": "Patientez…",
}
"""English texts of Streamlit's web page -> the French shown instead (whole texts)."""

BROWSER_PATTERNS: tuple[tuple[str, str], ...] = (
    # File uploader limit, "200MB per file" (and "200MB per file • CSV").
    (r"^(\d+(?:\.\d+)?)\s?KB per file", "$1 Ko au plus par fichier"),
    (r"^(\d+(?:\.\d+)?)\s?MB per file", "$1 Mo au plus par fichier"),
    (r"^(\d+(?:\.\d+)?)\s?GB per file", "$1 Go au plus par fichier"),
    # The "?" button of a widget's help, read aloud by screen readers.
    (r"^Help for (.+)$", "Aide : $1"),
)
"""Regular expressions (JavaScript) on texts, and their replacement."""

KEY = "observatoire_francais"

_JS = """
export default function () {
  document.documentElement.lang = "fr";
  if (window.__observatoireFrancais) return;
  window.__observatoireFrancais = true;
  const texts = new Map(Object.entries(TEXTS));
  const patterns = PATTERNS.map(([p, r]) => [new RegExp(p), r]);
  const french = (value) => {
    const trimmed = value.trim();
    if (!trimmed) return null;
    if (texts.has(trimmed)) return value.replace(trimmed, texts.get(trimmed));
    for (const [pattern, replacement] of patterns) {
      if (pattern.test(trimmed)) return value.replace(pattern, replacement);
    }
    return null;
  };
  const translate = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const replaced = french(node.nodeValue);
      if (replaced !== null && replaced !== node.nodeValue) node.nodeValue = replaced;
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    for (const name of ["placeholder", "aria-label", "title"]) {
      const value = node.getAttribute(name);
      const replaced = value && french(value);
      if (replaced && replaced !== value) node.setAttribute(name, replaced);
    }
    for (const child of node.childNodes) translate(child);
  };
  translate(document.body);
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "childList") change.addedNodes.forEach(translate);
      else translate(change.target);
    }
  }).observe(document.body, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ["placeholder", "aria-label", "title"],
  });
}
"""

_component = st.components.v2.component(
    "observatoire_francais",
    html="",
    js=_JS.replace("TEXTS", json.dumps(BROWSER_TEXTS, ensure_ascii=False)).replace(
        "PATTERNS", json.dumps(BROWSER_PATTERNS)
    ),
)


def french_interface() -> None:
    """Mount the translator (hidden: it draws nothing); once per run of the navigation."""
    st.html(f"<style>.st-key-{KEY}{{display:none}}</style>")
    _component(key=KEY)
