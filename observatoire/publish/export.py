"""Static exports of a publication: self-contained HTML, PNG map, CSV and XLSX tables."""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import plotly.io as pio

from observatoire.formula import escape_frame, frame_to_csv, protect_sheet
from observatoire.model import ObservatoireError
from observatoire.output_files import replaced_atomically
from observatoire.publish.figures import commune_map, trend_figure
from observatoire.publish.report import Publication

EXPORT_FORMATS = ("html", "png", "csv", "xlsx")
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

_COMMUNE_HEADERS = {
    "code": "Code INSEE",
    "nom": "Commune",
    "population": "Population",
    "personnes": "Personnes sans abri (a minima)",
    "pour_10000": "Pour 10 000 habitants",
    "statut": "Statut",
}


def commune_table_fr(publication: Publication) -> pd.DataFrame:
    """The commune table with French headers, as published (secret cells empty)."""
    return publication.communes.rename(columns=_COMMUNE_HEADERS)


def _stem(publication: Publication) -> str:
    return f"publication_{publication.night_date:%Y-%m-%d}"


def commune_csv(publication: Publication) -> bytes:
    """The commune table as published in CSV (the file of `write_csv`, the page's download):
    UTF-8 with BOM, semicolons and decimal commas, as a French spreadsheet expects; text
    cells escaped (`observatoire.formula`)."""
    text = frame_to_csv(commune_table_fr(publication), sep=";", decimal=",")
    return text.encode("utf-8-sig")


def write_csv(publication: Publication, directory: Path) -> Path:
    path = directory / f"{_stem(publication)}_communes.csv"
    with replaced_atomically(path) as temporary:
        temporary.write_bytes(commune_csv(publication))
    return path


def write_xlsx(publication: Publication, directory: Path) -> Path:
    """The publication's tables, one sheet each; every text cell escaped and typed as text
    (`observatoire.formula.protect_sheet`), never a live formula."""
    path = directory / f"{_stem(publication)}.xlsx"
    method = pd.DataFrame(
        {"Méthodologie": [publication.methodology, publication.disclosure_note,
                          publication.data_note, *publication.notes]}
    )  # fmt: skip
    sources = pd.DataFrame(publication.sources, columns=["Donnée", "Source et licence"])
    sheets = {
        "Chiffres clés": publication.key_figures.rename(
            columns={"indicateur": "Indicateur", "valeur": "Valeur", "unite": "Unité"}),
        "Communes": commune_table_fr(publication),
        "Lieux": publication.places.rename(
            columns={"libelle": "Lieu", "personnes": "Personnes", "statut": "Statut"}),
        "Évolution": publication.trend.rename(
            columns={"campagne": "Nuit de comptage", "nuit": "Date", "personnes": "Personnes",
                     "evolution_pct": "Évolution (%)", "precaution": "Précaution"}),
        "Profil": publication.profile.rename(columns={"indicateur": "Indicateur",
                                                      "part": "Part"}),
        "Méthodologie": method,
        "Sources": sources,
    }  # fmt: skip
    with replaced_atomically(path) as temporary, pd.ExcelWriter(
        temporary, engine="openpyxl"
    ) as writer:
        for name, table in sheets.items():
            escape_frame(table).to_excel(writer, sheet_name=name, index=False)
            protect_sheet(writer.sheets[name])
    return path


def _cell(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "secret"
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def display_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A published table as read on a page or in the HTML: every cell spelled out, a
    secret one as "secret" (a page's table would show an empty count as "None")."""
    # Nullable columns ignore ``na_rep``: spell every cell out so secret cells say so.
    return frame.astype(object).map(_cell)


def _table_html(frame: pd.DataFrame) -> str:
    return display_table(frame).to_html(index=False, border=0, classes="table")


def render_html(publication: Publication, geometries: gpd.GeoDataFrame) -> str:
    """One self-contained page (plotly.js inlined: opens offline, on any machine)."""
    title = f"{publication.territory} — {publication.campaign}"
    maps = [
        pio.to_html(commune_map(publication, geometries, m), full_html=False,
                    include_plotlyjs=(i == 0), config={"displaylogo": False})
        for i, m in enumerate(("personnes", "pour_10000"))
    ]  # fmt: skip
    trend = pio.to_html(trend_figure(publication), full_html=False, include_plotlyjs=False)
    profile = publication.profile.assign(
        part=[("secret" if pd.isna(p) else f"{100 * p:.0f} %") for p in publication.profile["part"]]
    ).rename(columns={"indicateur": "Indicateur", "part": "Part"})
    sources = "".join(
        f"<li><strong>{html.escape(a)}</strong> : {html.escape(b)}</li>"
        for a, b in publication.sources
    )
    notes = "".join(f"<p><em>{html.escape(n)}</em></p>" for n in publication.notes)
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }}
table.table {{ border-collapse: collapse; margin: 1em 0; }}
table.table td, table.table th {{ padding: .3em .8em; border-bottom: 1px solid #ddd;
                                  text-align: left; }}
</style></head><body>
<h1>{esc(publication.territory)}</h1>
<h2>{esc(publication.campaign)} — nuit du {publication.night_date:%d/%m/%Y}</h2>
<p>{esc(publication.data_note)}</p>
{notes}
<h3>Chiffres clés</h3>
{_table_html(publication.key_figures.rename(columns={"indicateur": "Indicateur",
             "valeur": "Valeur", "unite": "Unité"}))}
<h3>Carte par commune</h3>
{maps[0]}
{maps[1]}
<h3>Personnes décomptées par lieu</h3>
{_table_html(publication.places.rename(columns={"libelle": "Lieu", "personnes": "Personnes",
             "statut": "Statut"}))}
<h3>Par commune</h3>
{_table_html(commune_table_fr(publication))}
<h3>Évolution</h3>
{trend}
{_table_html(publication.trend.rename(columns={"campagne": "Nuit de comptage", "nuit": "Date",
             "personnes": "Personnes", "evolution_pct": "Évolution (%)",
             "precaution": "Précaution"}))}
<h3>Profil des personnes rencontrées</h3>
{_table_html(profile)}
<h3>Méthodologie</h3>
<p>{esc(publication.methodology)}</p>
<p>{esc(publication.disclosure_note)}</p>
<h3>Sources et licences</h3>
<ul>{sources}</ul>
</body></html>
"""  # fmt: skip


def write_html(publication: Publication, geometries: gpd.GeoDataFrame, directory: Path) -> Path:
    path = directory / f"{_stem(publication)}.html"
    with replaced_atomically(path) as temporary:
        temporary.write_text(render_html(publication, geometries), encoding="utf-8")
    return path


def _browser_path() -> str | None:
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("google-chrome")


def write_png(
    publication: Publication,
    geometries: gpd.GeoDataFrame,
    directory: Path,
    measure: str = "personnes",
) -> Path:
    """The commune map as a PNG (plotly's kaleido drives a local Chromium, offline)."""
    browser = _browser_path()
    if browser is None:
        raise ObservatoireError(
            "Export PNG impossible : aucun navigateur Chromium trouvé. Installez-le "
            "(apt-get install chromium) ou indiquez son chemin dans BROWSER_PATH ; les "
            "exports HTML, CSV et XLSX n'en ont pas besoin (--formats html csv xlsx)."
        )
    os.environ.setdefault("BROWSER_PATH", browser)
    path = directory / f"{_stem(publication)}_carte.png"
    figure = commune_map(publication, geometries, measure)
    figure.update_layout(title=f"{publication.territory} — {publication.campaign}")
    try:
        with replaced_atomically(path) as temporary:
            figure.write_image(temporary, format="png", width=1200, height=800)
    except Exception as exc:  # kaleido reports its failures with many exception types
        raise ObservatoireError(
            f"Export PNG impossible ({exc}). Vérifiez que kaleido est installé "
            f"(pip install kaleido) et que Chromium démarre ({browser})."
        ) from exc
    return path


def export_publication(
    publication: Publication,
    geometries: gpd.GeoDataFrame,
    directory: Path,
    formats: tuple[str, ...] = EXPORT_FORMATS,
) -> dict[str, Path]:
    """Write the asked formats into ``directory``; returns format -> file."""
    unknown = sorted(set(formats) - set(EXPORT_FORMATS))
    if unknown:
        raise ObservatoireError(
            f"Format d'export inconnu : {', '.join(unknown)}. Formats : "
            f"{', '.join(EXPORT_FORMATS)}."
        )
    directory.mkdir(parents=True, exist_ok=True)
    writers = {
        "html": lambda: write_html(publication, geometries, directory),
        "png": lambda: write_png(publication, geometries, directory),
        "csv": lambda: write_csv(publication, directory),
        "xlsx": lambda: write_xlsx(publication, directory),
    }
    return {f: writers[f]() for f in EXPORT_FORMATS if f in formats}
