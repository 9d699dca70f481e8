"""The execution report of a convention year (« rapport d'exécution »), in French.

As the conventions ask (art. 2.3): for each annexed action its objective, indicators, target,
value for the year, distance to the target and a comment field; the overall review (count
nights, de-duplicated estimate with its interval, *Logement d'abord* indicators, trend since
the first night); the budget per action; methods and sources. A figure counting people goes
through the disclosure control before it leaves the observatory: under the threshold it
reads "secret". The report reads the count nights only as published (their latest
version): it computes no public figure of its own.

    report = build_annual_report(convention, 2025, values, nights, distinct, rules)
    # nights: the published nights (`observatoire.nights.published_nights`)
    write_report(report, "rapport-2025.xlsx")       # or .html
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from observatoire.evaluation.convention import Convention
from observatoire.formats_fr import number_fr
from observatoire.model import ObservatoireError
from observatoire.publish.disclosure import DisclosureRules

NOT_ENTERED = "non renseigné"
# A value the data cannot give yet (``note`` of a values row without value): e.g. first-time
# homeless while the records do not go back 24 months before the year.
NOT_COMPUTABLE = "non calculable"
SECRET = "secret"
NOT_PUBLISHED = "non publiée"
HIDDEN_HOW_TO = ("aucune nuit de {year} n'a été publiée avec cette estimation : publiez la "
                 "nuit avec `observatoire nuit publish ID --estimation-totale` (ou la case "
                 "« Publier aussi l'estimation de la population totale » de la page "
                 "Campagnes), puis refaites le rapport")
# Units whose figures count people or households: protected by the threshold.
COUNTED_UNITS = {"personnes", "ménages"}
UNIT_LABELS = {"part": "%", "pour_10000": "pour 10 000 hab.", "mois": "mois"}


@dataclass(frozen=True)
class AnnualReport:
    convention: Convention
    year: int
    actions: pd.DataFrame  # one row per annexed action
    indicators: pd.DataFrame  # one row per (action, indicator)
    overview: pd.DataFrame  # the overall review: figure, value, comment
    budget: pd.DataFrame  # one row per action: amounts per year
    methods: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # indicators with a target, no value

    @property
    def deadline(self) -> dt.date:
        return self.convention.deadline(self.year)


def _number(value: float | None) -> str:
    return number_fr(value, 2, missing="")


def _shown(value: float | None, unit: str | None, rules: DisclosureRules) -> str:
    """A value as published: "non renseigné" without one, "secret" for a small count."""
    if value is None or pd.isna(value):
        return NOT_ENTERED
    if unit in COUNTED_UNITS and 0 < value < rules.threshold:
        return SECRET
    if unit == "part":
        return f"{value * 100:.0f} %" if value <= 1 else f"{value:.0f} %"
    if unit in COUNTED_UNITS:
        value = rules.publish_value(value)
    suffix = UNIT_LABELS.get(unit or "", unit or "")
    return f"{_number(value)} {suffix}".strip()


def _distance(value: float | None, target: float | None, good: str | None) -> str:
    if value is None or target is None or pd.isna(value) or pd.isna(target):
        return ""
    gap = value - target
    met = gap >= 0 if good != "down" else gap <= 0
    return f"{'+' if gap > 0 else ''}{_number(gap)} ({'atteint' if met else 'non atteint'})"


def build_annual_report(
    convention: Convention,
    year: int,
    values: pd.DataFrame,
    nights: pd.DataFrame,
    distinct: tuple[int, int, int] | None,
    rules: DisclosureRules,
    comments: dict[str, str] | None = None,
) -> AnnualReport:
    """The report of ``year``.

    ``values``: ``indicator_id``, ``year``, ``value`` (computed from the data and entered by
    staff, e.g. `observatoire.indicators.plan_indicators`, the count nights' figures as
    published); ``nights``: the published count nights and their published figures
    (`observatoire.nights.published_nights`: ``night_date``, ``total``, NaN where secret,
    ``hidden``: the estimate of everybody's published interval, if the version holds it);
    ``distinct``: the de-duplicated estimate of distinct people and its interval
    (``estimate, low, high``), or ``None``; ``comments``: action number -> comment.
    """
    if not convention.covers(year):
        raise ObservatoireError(
            f"{year} est hors de la période de la convention ({convention.period[0]}-"
            f"{convention.period[1]}) : choisissez une année de la période."
        )
    comments = comments or {}
    known = values.dropna(subset=["value"]) if not values.empty else values
    value_of = {(r.indicator_id, int(r.year)): float(r.value)
                for r in known.itertuples(index=False)}
    secret = _secret_night_values(nights) | _noted(values, SECRET)
    not_computable = _noted(values, NOT_COMPUTABLE)
    indicator_rows, action_rows, missing = [], [], []
    for action in convention.actions:
        lines = []
        for indicator in (i.described() for i in action.indicators):
            target, target_year = convention.target(indicator, year)
            value = value_of.get((indicator.id, year))
            shown = (SECRET if value is None and (indicator.id, year) in secret
                     else _shown(value, indicator.unit, rules))
            if value is None and (indicator.id, year) in not_computable:
                shown = NOT_COMPUTABLE
            objective = ("" if target is None else _shown(target, indicator.unit,
                                                          DisclosureRules(threshold=1)))
            if target is not None and target_year != year:
                objective += f" (objectif {target_year})"
            distance = (_distance(value, target, indicator.good) if shown != SECRET else "")
            if target is not None and value is None:
                missing.append(f"{action.number} – {indicator.label}")
            indicator_rows.append({
                "N°": action.number, "Action": action.title, "Indicateur": indicator.label,
                "Source": "données de l'observatoire" if indicator.catalogue
                else "saisie de l'équipe",
                f"Objectif {year}": objective or "—", f"Valeur {year}": shown,
                "Écart à l'objectif": distance,
            })
            lines.append((indicator.label, objective or "—", shown, distance))
        action_rows.append({
            "N°": action.number,
            "Action": action.title,
            "Priorité du plan": f"{action.priority}. {action.priority_label}",
            "Pilote": action.pilot,
            "Partenaires": ", ".join(action.partners),
            "Objectif de l'action": action.objective,
            "Résultats attendus": action.expected,
            "Indicateurs": " | ".join(line[0] for line in lines) or "—",
            f"Objectif(s) {year}": " | ".join(line[1] for line in lines) or "—",
            f"Valeur(s) {year}": " | ".join(line[2] for line in lines) or NOT_ENTERED,
            "Écart à l'objectif": " | ".join(line[3] for line in lines if line[3]),
            f"Budget demandé {year}": _number(action.budget.get(year)),
            "Commentaire": comments.get(action.number, ""),
        })

    overview = _overview(year, nights, distinct, values, rules)
    years = sorted({y for a in convention.actions for y in a.budget})
    budget = pd.DataFrame([
        {"N°": a.number, "Action": a.title,
         **{f"Budget {y} (€)": _number(a.budget.get(y)) for y in years}}
        for a in convention.actions
    ])
    methods = [
        f"Convention : {convention.title}. Source : {convention.source}.",
        f"Rapport d'exécution {year}, à transmettre au Préfet et à la Dihal au plus tard le "
        f"{convention.deadline(year):%d/%m/%Y}" + (f" ; reversement possible : "
                                                   f"{convention.clawback}." if convention.clawback
                                                   else "."),
        "Valeurs des indicateurs : calculées à partir des données de l'observatoire (nuits de "
        "la Solidarité, SI-SIAO, 115) ou saisies par l'équipe de l'observatoire ; « non "
        "renseigné » : aucune valeur pour l'année.",
        f"Secret statistique : un effectif de personnes ou de ménages inférieur à "
        f"{rules.threshold} n'est pas publié (« secret »)"
        + (f" ; effectifs arrondis à {rules.rounding}." if rules.rounding else "."),
    ]
    return AnnualReport(convention, year, pd.DataFrame(action_rows),
                        pd.DataFrame(indicator_rows), overview, budget, methods, missing)


def _secret_night_values(nights: pd.DataFrame) -> set[tuple[str, int]]:
    """(indicator, year) of the count-night figures a published night keeps secret."""
    from observatoire.indicators.yearly import night_values

    values = night_values(nights)
    return {(r.indicator_id, int(r.year)) for r in values.itertuples(index=False)
            if pd.isna(r.value)}  # fmt: skip


def _published_count(value: float | None, rules: DisclosureRules) -> str:
    """A count as its published night shows it: NaN/None there is secret."""
    return SECRET if value is None or pd.isna(value) else _shown(value, "personnes", rules)


def _overview(year: int, nights: pd.DataFrame, distinct: tuple[int, int, int] | None,
              values: pd.DataFrame, rules: DisclosureRules) -> pd.DataFrame:
    rows = []
    of_year = nights.iloc[0:0]
    if not nights.empty:
        dates = pd.to_datetime(nights["night_date"])
        of_year = nights[dates.dt.year == year].sort_values("night_date")
        for night in of_year.itertuples(index=False):
            day = pd.Timestamp(night.night_date)
            rows.append({"Indicateur": f"Nuit de la Solidarité du {day:%d/%m/%Y} : personnes "
                         "décomptées (a minima)",
                         "Valeur": _published_count(night.total, rules),
                         "Commentaire": "rue et lieux décomptés par les partenaires, "
                         "chiffre de la version publiée de la nuit"})
        first = nights.sort_values("night_date").iloc[0]
        if of_year.empty:
            rows.append({"Indicateur": f"Nuit de la Solidarité {year}", "Valeur": NOT_ENTERED,
                         "Commentaire": "aucune nuit de comptage publiée cette année"})
        elif pd.Timestamp(first.night_date).year < year:
            latest = of_year.iloc[-1]
            both = (latest.total, first.total)
            hidden_count = any(pd.isna(v) or v < rules.threshold for v in both)
            change = None if hidden_count else latest.total - first.total
            rows.append({"Indicateur": f"Évolution depuis la première nuit "
                         f"({pd.Timestamp(first.night_date):%Y})",
                         "Valeur": (SECRET if change is None
                                    else f"{'+' if change > 0 else ''}{_number(change)}"),
                         "Commentaire": "à lire avec prudence si la couverture ou la méthode "
                         "a changé"})
    if distinct is not None:
        from observatoire.indicators.dedup import PeopleFigure
        from observatoire.indicators.wording import estimate_label, estimate_text

        # The figure and wording of the terminal, the tiles and the publication.
        figure = PeopleFigure(*distinct)
        rows.append({"Indicateur": estimate_label(),
                     "Valeur": (SECRET if 0 < figure.low < rules.threshold
                                else estimate_text(figure)),
                     "Commentaire": "nuit et partenaires, après rapprochement des "
                     "enregistrements (dernier rapprochement)"})
    rows.append(_hidden_row(year, of_year))
    if not values.empty:
        from observatoire.indicators.catalogue import load_catalogue

        catalogue = load_catalogue()
        # The plan's indicators, and the territory's own that it allows to publish.
        shown = [i.id for group in ("logement_d_abord", "performance")
                 for i in catalogue.in_group(group)] + [
            i.id for i in catalogue.in_group("territoire") if i.publishable]
        plan = values[(values["year"] == year) & values["indicator_id"].isin(shown)]
        for row in plan.dropna(subset=["value"]).itertuples(index=False):
            entry = catalogue[row.indicator_id]
            rows.append({"Indicateur": entry.label,
                         "Valeur": _shown(row.value, entry.unit, rules),
                         "Commentaire": entry.source})
        for note, why in ((NOT_COMPUTABLE, "historique des fichiers trop court"),
                          (SECRET, f"moins de {rules.threshold} personnes d'un côté ou de "
                           "l'autre de la part (secret statistique)")):
            for indicator_id, of_year in sorted(_noted(values, note)):
                if of_year == year and indicator_id in shown:
                    entry = catalogue[indicator_id]
                    rows.append({"Indicateur": entry.label, "Valeur": note,
                                 "Commentaire": why})
    return pd.DataFrame(rows, columns=["Indicateur", "Valeur", "Commentaire"])


def _hidden_row(year: int, of_year: pd.DataFrame) -> dict[str, str]:
    """The estimate of everybody as the year's latest night published with it gives it
    (its interval: never a bare point), or "non publiée" and how to publish it."""
    from observatoire.indicators.wording import HIDDEN_LABEL

    held = (of_year.dropna(subset=["hidden"]) if "hidden" in of_year else of_year.iloc[0:0])
    if held.empty:
        return {"Indicateur": HIDDEN_LABEL, "Valeur": NOT_PUBLISHED,
                "Commentaire": HIDDEN_HOW_TO.format(year=year)}
    night = held.iloc[-1]
    return {"Indicateur": HIDDEN_LABEL, "Valeur": str(night["hidden"]),
            "Commentaire": f"publiée avec la nuit du {pd.Timestamp(night['night_date']):%d/%m/%Y}"
            " ; capture-recapture sur les recoupements des sources rapprochées (hypothèses : "
            "population close, pas de sur-couverture, dépendance entre sources modélisée)"}


def _noted(values: pd.DataFrame, note: str) -> set[tuple[str, int]]:
    """(indicator, year) of the values rows without value noted ``note`` (`NOT_COMPUTABLE`:
    history too short; `SECRET`: withheld by the disclosure control)."""
    if values.empty or "note" not in values:
        return set()
    rows = values[values["value"].isna() & (values["note"] == note)]
    return {(r.indicator_id, int(r.year)) for r in rows.itertuples(index=False)}


def write_report(report: AnnualReport, path: str | Path) -> Path:
    """Write the report as ``.xlsx`` or ``.html`` (by the file's extension), atomically."""
    from observatoire.output_files import check_writable, replaced_atomically

    target = check_writable(path, "Rapport d'exécution")
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".html"):
        raise ObservatoireError(
            f"Format de rapport inconnu : {target.name}. Donnez un fichier .xlsx ou .html."
        )
    with replaced_atomically(target) as temporary:
        if suffix == ".xlsx":
            _write_xlsx(report, temporary)
        else:
            temporary.write_text(render_report_html(report), encoding="utf-8")
    return target


def _write_xlsx(report: AnnualReport, path: Path) -> None:
    title = pd.DataFrame({"Rapport d'exécution": [
        report.convention.title, f"Année {report.year}",
        f"À transmettre au plus tard le {report.deadline:%d/%m/%Y}",
        *([f"Sans valeur pour l'année : {', '.join(report.missing)}"] if report.missing else []),
    ]})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        title.to_excel(writer, sheet_name="Rapport", index=False)
        report.actions.to_excel(writer, sheet_name="Actions", index=False)
        report.indicators.to_excel(writer, sheet_name="Indicateurs", index=False)
        report.overview.to_excel(writer, sheet_name="Bilan global", index=False)
        report.budget.to_excel(writer, sheet_name="Budget", index=False)
        pd.DataFrame({"Méthodes et sources": report.methods}).to_excel(
            writer, sheet_name="Méthodes et sources", index=False)


def render_report_html(report: AnnualReport) -> str:
    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(index=False, border=0, classes="table", escape=True)

    missing = ("<p><strong>Sans valeur pour l'année :</strong> "
               + html.escape(", ".join(report.missing)) + "</p>") if report.missing else ""
    methods = "".join(f"<li>{html.escape(m)}</li>" for m in report.methods)
    return f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<title>Rapport d'exécution {report.year} – {html.escape(report.convention.title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}
table{{border-collapse:collapse;font-size:.9em}}td,th{{border:1px solid #ccc;padding:4px;
vertical-align:top}}th{{background:#eef}}</style></head><body>
<h1>Rapport d'exécution {report.year}</h1>
<p>{html.escape(report.convention.title)} – à transmettre au plus tard le
{report.deadline:%d/%m/%Y}.</p>{missing}
<h2>Actions de la convention</h2>{table(report.actions)}
<h2>Indicateurs</h2>{table(report.indicators)}
<h2>Bilan global</h2>{table(report.overview)}
<h2>Budget par action</h2>{table(report.budget)}
<h2>Méthodes et sources</h2><ul>{methods}</ul>
</body></html>
"""


def report_bytes(report: AnnualReport, suffix: str) -> bytes:
    """The report as the bytes of a ``.xlsx`` or ``.html`` file (for a download)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = write_report(report, Path(folder) / f"rapport{suffix}")
        return path.read_bytes()
