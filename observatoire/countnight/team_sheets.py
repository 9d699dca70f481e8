"""Printable team sheets of a count night: one page per team, to walk the sector with.

Each sheet holds the team's name, the night, the team code as text and as a QR code of the
entry link (``/saisie?equipe=CODE`` at the address the tablets open, `Settings.public_url`),
the sector's code and commune *name*, and the sector's outline over a street basemap
(`Settings.tiles_url`, Plan IGN by default) when the printing browser is online; offline the
tiles do not load and the bare outline stays. The sheets are built once per change of what
they show (teams, sectors, names, addresses) and kept in memory for the next download.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from html import escape
from urllib.parse import quote

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.config import Settings, load_settings
from observatoire.countnight.entry import NOBODY_MET
from observatoire.store import repository, survey_repository

SHEET_LAYOUT = 2  # bump when the sheet's layout changes: cached sheets are rebuilt
MAP_PIXELS = 560  # side of the sector's map on the sheet, in CSS pixels
TILE = 256
MAX_ZOOM = 18

_built: dict[tuple[str, int], tuple[str, str]] = {}  # (database, campaign) -> (digest, sheets)
_lock = threading.Lock()


def entry_link(public_url: str, team_code: str) -> str:
    """The address that opens the tablets' entry page with the team code filled in."""
    return f"{public_url.rstrip('/')}/saisie?equipe={quote(team_code)}"


def _qr_svg(text: str) -> str:
    import segno

    return segno.make(text, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def _pixels(coords: np.ndarray, zoom: int) -> np.ndarray:
    """Web Mercator pixel coordinates (as the tiles have them) of lon/lat ``coords``."""
    scale = TILE * 2**zoom
    lon, lat = coords[:, 0], np.clip(coords[:, 1], -85.05, 85.05)
    x = (lon + 180.0) / 360.0 * scale
    y = (1 - np.log(np.tan(np.radians(lat)) + 1 / np.cos(np.radians(lat))) / math.pi) / 2 * scale
    return np.column_stack([x, y])


def _zoom_for(bounds: tuple[float, float, float, float]) -> int:
    """The closest zoom at which the sectors fit the map with a margin."""
    corners = np.array([[bounds[0], bounds[1]], [bounds[2], bounds[3]]])
    for zoom in range(MAX_ZOOM, 0, -1):
        span = np.abs(np.diff(_pixels(corners, zoom), axis=0)).max()
        if span * 1.25 <= MAP_PIXELS:
            return zoom
    return 1


def _map_html(geometries: list, tiles_url: str | None, attribution: str = "") -> str:
    """The sectors' outline (SVG, north up) over the basemap's tiles."""
    union = shapely.union_all(geometries)
    minx, miny, maxx, maxy = union.bounds
    zoom = _zoom_for((minx, miny, maxx, maxy))
    centre = _pixels(np.array([[(minx + maxx) / 2, (miny + maxy) / 2]]), zoom)[0]
    left, top = centre - MAP_PIXELS / 2
    paths = []
    for geometry in geometries:
        moved = shapely.transform(geometry, lambda c: _pixels(c, zoom) - [left, top])
        for polygon in getattr(moved, "geoms", [moved]):
            rings = [polygon.exterior, *polygon.interiors]
            d = " ".join("M " + " L ".join(f"{x:.1f} {y:.1f}" for x, y in ring.coords) + " Z"
                         for ring in rings)  # fmt: skip
            paths.append(f"<path d='{d}'/>")
    tiles = []
    if tiles_url:
        first = np.floor(np.array([left, top]) / TILE).astype(int)
        last = np.floor((np.array([left, top]) + MAP_PIXELS) / TILE).astype(int)
        for tx in range(first[0], last[0] + 1):
            for ty in range(first[1], last[1] + 1):
                url = tiles_url.format(z=zoom, x=tx % 2**zoom, y=ty)
                tiles.append(
                    # Offline, a tile that does not load is removed: the bare outline stays.
                    f"<img src='{escape(url)}' alt='' onerror='this.remove()' "
                    f"style='left:{tx * TILE - left:.0f}px;top:{ty * TILE - top:.0f}px'>"
                )
    caption = f"<p class='credit'>{escape(attribution)}</p>" if tiles_url else ""
    return (
        f"<div class='map'>{''.join(tiles)}"
        f"<svg viewBox='0 0 {MAP_PIXELS} {MAP_PIXELS}'>{''.join(paths)}</svg></div>{caption}"
    )


def _inputs(engine: Engine, campaign_id: int) -> tuple[str, pd.DataFrame, dict[str, str]]:
    with Session(engine) as session:
        campaign = survey_repository.get_campaign(session, campaign_id)
        title = f"{campaign.name} — nuit du {campaign.night_date:%d/%m/%Y}"
        rows = survey_repository.sector_rows(session, campaign_id)
        teams = pd.DataFrame(
            [(r[0], r[1], r[2], r[3], r[4]) for r in rows],
            columns=["sector_code", "commune_code", "wkb", "team_code", "team_name"],
        ).dropna(subset=["team_code"])
        names = repository.commune_names(session, teams["commune_code"])
    return title, teams, names


def _digest(title: str, teams: pd.DataFrame, names: dict[str, str], settings: Settings) -> str:
    h = hashlib.sha256(f"{SHEET_LAYOUT}|{title}|{settings.public_url}|{settings.tiles_url}|"
                       f"{settings.tiles_attribution}".encode())  # fmt: skip
    for row in teams.sort_values(["team_code", "sector_code"]).itertuples(index=False):
        h.update(f"|{row.team_code}|{row.team_name}|{row.sector_code}|{row.commune_code}|"
                 f"{names.get(row.commune_code, '')}|".encode())  # fmt: skip
        h.update(bytes(row.wkb or b""))
    return h.hexdigest()


def _natural(text: str) -> list:
    """Sort key reading the numbers of a name as numbers (Équipe 2 before Équipe 10)."""
    return [int(part) if part.isdigit() else part.casefold()
            for part in re.split(r"(\d+)", text)]


def _commune_text(codes: list[str], names: dict[str, str]) -> str:
    return ", ".join(names.get(code, code) for code in sorted(set(codes)))


def build_sheets(title: str, teams: pd.DataFrame, names: dict[str, str],
                 settings: Settings) -> str:
    parts = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>Fiches d'équipe — {escape(title)}</title><style>",
        "body{font-family:sans-serif;margin:0} .sheet{page-break-after:always;padding:1em}",
        ".head{display:flex;justify-content:space-between;align-items:flex-start;gap:1em}",
        ".code{font-size:3em;font-weight:bold;letter-spacing:.2em;margin:.1em 0}",
        f".map{{position:relative;width:{MAP_PIXELS}px;height:{MAP_PIXELS}px;"
        "overflow:hidden;border:1px solid #999;background:#fff}",
        f".map img{{position:absolute;width:{TILE}px;height:{TILE}px}}",
        ".map svg{position:absolute;left:0;top:0;width:100%;height:100%}",
        ".map path{fill:#1f77b4;fill-opacity:.15;stroke:#d62728;stroke-width:3}",
        ".credit{font-size:.8em;color:#555} .link{font-family:monospace;word-break:break-all}",
        "</style></head><body>",
    ]
    order = sorted(teams.groupby("team_code"), key=lambda item: _natural(
        str(item[1]["team_name"].iloc[0])))
    for team, group in order:
        link = entry_link(settings.public_url, str(team))
        geometries = list(shapely.from_wkb(group["wkb"].to_numpy()))
        sectors = ", ".join(group["sector_code"])
        parts.append(
            f"<section class='sheet'><div class='head'><div>"
            f"<h1>{escape(str(group['team_name'].iloc[0]))}</h1><p>{escape(title)}</p>"
            "<p>Code d'équipe à saisir sur la tablette :</p>"
            f"<p class='code'>{escape(str(team))}</p>"
            f"<p>Secteur(s) : {escape(sectors)} — {escape(_commune_text(list(group['commune_code']), names))}</p>"  # noqa: E501
            f"</div><div>{_qr_svg(link)}<p class='link'>{escape(link)}</p></div></div>"
            f"{_map_html(geometries, settings.tiles_url, settings.tiles_attribution)}"
            "<p>Ne réveillez personne, ne prenez aucune photo. En fin de tournée, signalez "
            f"le secteur parcouru sur la tablette, même sans rencontre : « {NOBODY_MET} ».</p>"
            "</section>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def team_sheets_html(engine: Engine, campaign_id: int, settings: Settings | None = None) -> str:
    """The night's printable team sheets (HTML), rebuilt only when what they show changed."""
    settings = settings or load_settings()
    title, teams, names = _inputs(engine, campaign_id)
    digest = _digest(title, teams, names, settings)
    key = (engine.url.render_as_string(hide_password=True), campaign_id)
    with _lock:
        cached = _built.get(key)
        if cached and cached[0] == digest:
            return cached[1]
    html = build_sheets(title, teams, names, settings)
    with _lock:
        _built[key] = (digest, html)
    return html


def team_sheets_table(engine: Engine, campaign_id: int) -> pd.DataFrame:
    """One row per team and sector: code, name, sector, commune code and name."""
    _, teams, names = _inputs(engine, campaign_id)
    table = teams.drop(columns="wkb")[["team_code", "team_name", "sector_code", "commune_code"]]
    return table.assign(commune=table["commune_code"].map(names).fillna(table["commune_code"]))
