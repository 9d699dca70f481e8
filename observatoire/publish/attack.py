"""A differencing attack on the public tables, run before anything is published.

Every published cell is an equation: the sum of the people of some *atoms* (one night, one
commune, one kind of place: the street or a kind of partner place) equals the value shown.
A protected quantity (a suppressed cell, or a small count of one commune's street or
places) is *recovered* when its sum of atoms is a linear combination of the published
equations: the tables, their totals, the merged rows ("Autres communes", "Lieux
regroupés"), the trend, on this night and every earlier published one. That is the test of
differencing (total minus visible cells, one table minus another, one year minus the next):
the quantity's indicator vector lies in the row space of the published equations, and its
value then follows from the published values whatever the hidden ones.

Limits: rounded or perturbed publications (``rounding``, ``perturbation``) are not exact
equations and are not checked (differencing them gives rounding or noise);
bounds (a count is never negative) are not used, so a recovery that needs them (a merged
cell proven zero) is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

Atom = tuple[str, str, str]
"""(night, commune code or ``"?"`` for an unknown commune, kind of place)."""
UNKNOWN_COMMUNE = "?"
STREET = "rue"


@dataclass(frozen=True)
class Cell:
    label: str
    atoms: frozenset[Atom]
    value: int | None
    """``None``: suppressed."""


@dataclass(frozen=True)
class PublicTable:
    name: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Disclosure:
    """A protected quantity that the public tables give away exactly."""

    label: str
    value: int
    tables: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        return f"{self.label} = {self.value}"


def find_disclosures(
    tables: Sequence[PublicTable],
    threshold: int,
    protected: Iterable[tuple[str, frozenset[Atom]]] = (),
) -> list[Disclosure]:
    """The protected quantities recovered exactly from ``tables``.

    Checked: every suppressed cell of the tables (whatever its value), and each of
    ``protected`` whose recovered value is between 1 and ``threshold - 1``.
    """
    atoms = sorted({a for t in tables for c in t.cells for a in c.atoms}
                   | {a for _, group in protected for a in group})  # fmt: skip
    index = {a: i for i, a in enumerate(atoms)}

    def vector(group: frozenset[Atom]) -> np.ndarray:
        v = np.zeros(len(atoms))
        v[[index[a] for a in group]] = 1
        return v

    known = [(vector(c.atoms), c.value) for t in tables for c in t.cells
             if c.value is not None and c.atoms]  # fmt: skip
    if not known:
        return []
    a = np.vstack([v for v, _ in known])
    b = np.array([x for _, x in known], dtype=float)
    rank = np.linalg.matrix_rank(a)
    solution = np.linalg.lstsq(a, b, rcond=None)[0]
    names = {c.atoms: t.name for t in tables for c in t.cells}

    def recovered(group: frozenset[Atom]) -> int | None:
        v = vector(group)
        if np.linalg.matrix_rank(np.vstack([a, v])) > rank:
            return None
        return int(round(float(v @ solution)))

    found: dict[frozenset[Atom], Disclosure] = {}
    for t in tables:
        for c in t.cells:
            if c.value is None and c.atoms and c.atoms not in found:
                value = recovered(c.atoms)
                if value is not None:
                    found[c.atoms] = Disclosure(f"{t.name} : {c.label}", value, (t.name,))
    for label, group in protected:
        if group in found or not group:
            continue
        value = recovered(group)
        if value is not None and 0 < value < threshold:
            found[group] = Disclosure(label, value, (names.get(group, ""),))
    return list(found.values())


# --- the tables of a publication ------------------------------------------------------------


def publication_tables(publication) -> tuple[list[PublicTable], list[tuple[str, frozenset]]]:
    """The public tables of an `observatoire.publish.report.Publication` as equations on
    atoms, and the small quantities to protect (each commune's street and places)."""
    from observatoire.indicators.count import STREET_LABEL
    from observatoire.publish.disclosure import OTHER, TOTAL

    night = publication.night_date.isoformat()
    rows = publication.communes
    cells = rows[~rows["statut"].isin([OTHER, TOTAL])]
    def code_of(code: object) -> str:
        return str(code) if isinstance(code, str) and code else UNKNOWN_COMMUNE

    codes = [code_of(c) for c in cells["code"] if code_of(c) != UNKNOWN_COMMUNE]
    unknown_row = any(code_of(c) == UNKNOWN_COMMUNE for c in cells["code"])
    places = publication.places
    kinds = [k for k in places.loc[~places["statut"].isin([OTHER, TOTAL]), "libelle"]]
    kind_of = {k: (STREET if k == STREET_LABEL else k) for k in kinds}
    partner_kinds = [kind_of[k] for k in kinds if kind_of[k] != STREET]

    def commune_atoms(code: str) -> frozenset[Atom]:
        # Volunteers' street counts always have a commune: only partner places lack one.
        return frozenset((night, code, kind_of[k]) for k in kinds
                         if code != UNKNOWN_COMMUNE or kind_of[k] != STREET)  # fmt: skip

    def kind_atoms(kind: str) -> frozenset[Atom]:
        where = codes + ([] if kind == STREET else [UNKNOWN_COMMUNE])
        return frozenset((night, c, kind) for c in where)

    def value(x: object) -> int | None:
        return None if x is None or pd.isna(x) else int(x)

    everything = frozenset().union(*(kind_atoms(kind_of[k]) for k in kinds)) if kinds else \
        frozenset()  # fmt: skip
    known_communes = frozenset(a for a in everything if a[1] != UNKNOWN_COMMUNE)
    commune_cells, hidden = [], set()
    for row in cells.itertuples(index=False):
        code = code_of(row.code)
        commune_cells.append(Cell(str(row.nom), commune_atoms(code), value(row.personnes)))
        if value(row.personnes) is None:
            hidden.add(code)
    for row in rows[rows["statut"] == OTHER].itertuples(index=False):
        merged = frozenset().union(*(commune_atoms(c) for c in hidden)) if hidden else \
            frozenset()  # fmt: skip
        commune_cells.append(Cell(str(row.nom), merged, value(row.personnes)))
    for row in rows[rows["statut"] == TOTAL].itertuples(index=False):
        # Partner places of an unknown commune count in the communes' total only when
        # they have a row of their own.
        commune_cells.append(Cell(str(row.nom), everything if unknown_row else known_communes,
                                  value(row.personnes)))  # fmt: skip
    place_cells, hidden_kinds = [], []
    for row in places.itertuples(index=False):
        if row.statut == TOTAL:
            group = everything
        elif row.statut == OTHER:
            group = frozenset().union(*(kind_atoms(kind_of[k]) for k in hidden_kinds)) \
                if hidden_kinds else frozenset()  # fmt: skip
        else:
            group = kind_atoms(kind_of[row.libelle])
            if value(row.personnes) is None:
                hidden_kinds.append(row.libelle)
        place_cells.append(Cell(str(row.libelle), group, value(row.personnes)))
    tag = f"{publication.campaign}"
    tables = [PublicTable(f"{tag}, par commune", tuple(commune_cells)),
              PublicTable(f"{tag}, par lieu", tuple(place_cells))]  # fmt: skip
    protected = []
    for row in cells.itertuples(index=False):
        code = code_of(row.code)
        if code == UNKNOWN_COMMUNE:
            continue
        protected.append((f"{row.nom} ({night}), rue", frozenset({(night, code, STREET)})))
        protected.append((f"{row.nom} ({night}), lieux partenaires",
                          frozenset((night, code, k) for k in partner_kinds)))  # fmt: skip
    protected.append((f"Commune inconnue ({night}), lieux partenaires",
                      frozenset((night, UNKNOWN_COMMUNE, k) for k in partner_kinds)))  # fmt: skip
    return tables, protected


def _change(text: object) -> float | None:
    """A published year-on-year change ("+12,5 %") as a number; ``None`` if not one."""
    try:
        return float(str(text).replace("%", "").replace(",", ".").replace("\u202f", ""))
    except ValueError:
        return None


def cross_night_disclosures(publications: Sequence, threshold: int) -> list[Disclosure]:
    """What the trends give away across nights, beyond sums of cells.

    - A night's total in a later publication's trend must be the one its own publication
      shows: a total recomputed from today's data (a late tally) differs, and the
      difference counts the people added.
    - A published year-on-year change with one of its two totals secret gives the secret
      one back (the other times the change).

    ``publications[0]`` is the one to publish, the others the earlier published nights.
    """
    own = {p.night_date.isoformat(): p for p in publications}
    found: list[Disclosure] = []
    # The first publication's trend: the one to publish (the earlier ones were checked
    # when they were; a correction's gap with its earlier version is public by design).
    for publication in publications[:1]:
        trend = publication.trend.reset_index(drop=True)
        for i, row in trend.iterrows():
            key = pd.Timestamp(row["nuit"]).date().isoformat()
            shown = None if pd.isna(row["personnes"]) else int(row["personnes"])
            night = own.get(key)
            if night is not None and night is not publication and shown is not None \
                    and night.total is not None and shown != night.total:  # fmt: skip
                gap = abs(shown - night.total)
                found.append(Disclosure(
                    f"{row['campagne']} ({key}) : {gap} personne(s) d'écart entre "
                    f"l'évolution de « {publication.campaign} » et la publication de la nuit",
                    gap, (f"{publication.campaign}, évolution", f"{night.campaign}, par lieu"),
                ))  # fmt: skip
            change = _change(row.get("evolution_pct")) if i else None
            if change is None:
                continue
            before = trend.loc[i - 1, "personnes"]
            if pd.isna(before) == (shown is None):
                continue
            if shown is None:
                value, label = int(before) * (1 + change / 100), row["campagne"]
            else:
                value, label = shown / (1 + change / 100), trend.loc[i - 1, "campagne"]
            found.append(Disclosure(
                f"{label} : total secret retrouvé par l'évolution publiée ({row['evolution_pct']})",
                int(round(value)), (f"{publication.campaign}, évolution",),
            ))  # fmt: skip
    return found


def check_publications(publications: Sequence, threshold: int,
                       surfaces: Sequence[PublicTable] = ()) -> list[Disclosure]:  # fmt: skip
    """The differencing check over the tables of every publication given together (the
    one to publish first, then the earlier published ones), trends and their changes
    included.

    ``surfaces``: other public tables on the same atoms (a page or an API that shows a
    breakdown of its own, `publication_tables`' atoms), checked with them.
    """
    tables: list[PublicTable] = []
    protected: list[tuple[str, frozenset[Atom]]] = []
    nights: dict[str, frozenset[Atom]] = {}
    for publication in publications:
        if publication.rules.rounding or publication.rules.perturbation:
            continue
        t, p = publication_tables(publication)
        tables += t
        protected += p
        nights[publication.night_date.isoformat()] = frozenset(
            a for c in t[1].cells for a in c.atoms)  # fmt: skip
    totals = {p.night_date.isoformat(): p.total for p in publications
              if not (p.rules.rounding or p.rules.perturbation)}  # fmt: skip
    for publication in publications:
        if publication.rules.rounding or publication.rules.perturbation:
            continue
        trend = []
        for row in publication.trend.itertuples(index=False):
            key = pd.Timestamp(row.nuit).date().isoformat()
            if totals.get(key) is not None and not pd.isna(row.personnes) \
                    and int(row.personnes) != totals[key]:  # fmt: skip
                # Not the same people as the night's own tables: `cross_night_disclosures`
                # reports the gap; as an equation it would make the system inconsistent.
                continue
            # A night whose tables are not given stands as one atom of its own.
            group = nights.get(key, frozenset({(key, "*", "total")}))
            trend.append(Cell(str(row.campagne), group,
                              None if pd.isna(row.personnes) else int(row.personnes)))  # fmt: skip
        tables.append(PublicTable(f"{publication.campaign}, évolution", tuple(trend)))
    exact = [p for p in publications if not (p.rules.rounding or p.rules.perturbation)]
    return (find_disclosures([*tables, *surfaces], threshold, protected)
            + cross_night_disclosures(exact, threshold))
