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


def check_publications(publications: Sequence, threshold: int) -> list[Disclosure]:
    """The differencing check over the tables of every publication given together (this
    night's and the earlier published ones), trends included."""
    tables, protected = [], []
    nights: dict[str, frozenset[Atom]] = {}
    for publication in publications:
        if publication.rules.rounding or publication.rules.perturbation:
            continue
        t, p = publication_tables(publication)
        tables += t
        protected += p
        nights[publication.night_date.isoformat()] = frozenset(
            a for c in t[1].cells for a in c.atoms)  # fmt: skip
    for publication in publications:
        if publication.rules.rounding or publication.rules.perturbation:
            continue
        trend = []
        for row in publication.trend.itertuples(index=False):
            key = pd.Timestamp(row.nuit).date().isoformat()
            # A night whose tables are not given stands as one atom of its own.
            group = nights.get(key, frozenset({(key, "*", "total")}))
            trend.append(Cell(str(row.campagne), group,
                              None if pd.isna(row.personnes) else int(row.personnes)))  # fmt: skip
        tables.append(PublicTable(f"{publication.campaign}, évolution", tuple(trend)))
    return find_disclosures(tables, threshold, protected)
