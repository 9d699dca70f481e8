"""Clerical review of the latest stored linkage run: what the review page reads and does.

Services that take an `Engine` (the page opens no session and runs no query): the queue with
its run's estimate, a record's fields with French labels and readable values (never a name
or a date of birth: the store keeps them only as keyed encodings), the answer to a pair and
its undo, the person a record belongs to, and the split of a wrongly merged person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.linkage.compare import COMPARISONS, Comparison
from observatoire.model import ObservatoireError, Sex, SourceKind
from observatoire.store import linkage_repository as repo
from observatoire.store import repository

# The fields of `linkage_repository.record_details`, in the order shown, with their label.
FIELD_LABELS = {
    "source": "Source", "commune": "Commune", "sexe": "Sexe",
    "annee_naissance": "Année de naissance", "age": "Âge déclaré",
    "tranche_age": "Tranche d'âge", "dernier_contact": "Dernier contact", "vu_le": "Vu le",
    "nom_connu": "Nom renseigné", "prenom_connu": "Prénom renseigné",
    "date_complete": "Date de naissance complète", "initiales_donnees": "Initiales données",
}  # fmt: skip
MISSING = "—"


@dataclass(frozen=True)
class ReviewState:
    """The queue of the latest run (``record_a``, ``record_b``, ``probability``, ``levels``,
    ``decision``: the latest answer or ``None``) and the run's figures."""

    queue: pd.DataFrame
    figure: repo.PeopleFigure | None

    @property
    def answered(self) -> int:
        return int(self.queue["decision"].notna().sum()) if len(self.queue) else 0

    @property
    def size(self) -> int:
        """Pairs in the queue (the run's own count when it stored fewer)."""
        stored = len(self.queue)
        return max(stored, self.figure.review_pairs) if self.figure else stored

    def next_pair(self) -> pd.Series | None:
        todo = self.queue[self.queue["decision"].isna()] if len(self.queue) else self.queue
        return None if todo.empty else todo.iloc[0]


def review_state(engine: Engine) -> ReviewState:
    with Session(engine) as session:
        return ReviewState(repo.review_queue(session), repo.people_estimate(session))


def answer(engine: Engine, record_a: str, record_b: str, decision: str, reviewer: str,
           probability: float | None = None) -> None:
    """Store a reviewer's answer on a pair (it applies from the next run)."""
    with Session(engine) as session, session.begin():
        repo.add_decision(session, record_a, record_b, decision, reviewer, probability)


def undo_last_answer(engine: Engine, reviewer: str) -> tuple[str, str, str] | None:
    """Withdraw the reviewer's latest answer; the pair is back in the queue."""
    with Session(engine) as session, session.begin():
        return repo.undo_decision(session, reviewer)


def _date_text(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.hour or value.minute:
            return value.strftime("%d/%m/%Y à %H h %M")
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and pd.isna(value))


def _value_text(field: str, value: Any, record: Mapping[str, Any],
                communes: Mapping[str, str]) -> str:
    if _empty(value):
        return MISSING
    if isinstance(value, bool):
        return "oui" if value else "non"
    if field == "source":
        try:
            return SourceKind(value).label
        except ValueError:
            return str(value)
    if field == "commune":
        name = communes.get(str(value))
        return f"{name} ({value})" if name else str(value)
    if field == "sexe":
        try:
            return Sex(value).label
        except ValueError:
            return str(value)
    if field == "annee_naissance":
        year = str(int(value)) if isinstance(value, int | float) else str(value)
        return f"{year} (déduite de l'âge)" if record.get("annee_depuis_age") else year
    if field == "age":
        return f"{int(value)} ans" if isinstance(value, int | float) else str(value)
    if field in ("dernier_contact", "vu_le"):
        return _date_text(value)
    return str(value)


def record_cards(engine: Engine, keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Per record key, its fields as ``(French label, readable value)`` pairs."""
    keys = list(keys)
    with Session(engine) as session:
        details = repo.record_details(session, keys)
        names = repository.commune_names(session, (d.get("commune") for d in details.values()))
    return {
        key: [(FIELD_LABELS[field], _value_text(field, record[field], record, names))
              for field in FIELD_LABELS if field in record]
        for key, record in details.items()
    }  # fmt: skip


def similarity_rows(levels: Mapping[str, int] | None,
                    comparisons: Iterable[Comparison] = COMPARISONS) -> list[tuple[str, str]]:
    """The pair's comparison levels as ``(comparison label, level label)``: each comparison
    names itself and its levels."""
    known = {c.name: c for c in comparisons}
    rows = []
    for name, level in (levels or {}).items():
        comparison = known.get(name)
        if comparison is None:
            rows.append((name, "inconnu"))
            continue
        labels = comparison.labels
        rows.append((comparison.label, labels[level] if 0 <= level < len(labels) else "inconnu"))
    return rows


@dataclass(frozen=True)
class PersonView:
    key: str
    records: tuple[str, ...]
    cards: dict[str, list[tuple[str, str]]]


def find_person(engine: Engine, text: str) -> PersonView:
    """The person named by its key or by the key of one of its records
    (``si_siao:…``, ``nuit:…``); a French error when neither is known."""
    text = text.strip()
    if not text:
        raise ObservatoireError("Indiquez l'identifiant d'une personne ou d'un enregistrement.")
    with Session(engine) as session:
        key = text
        try:
            records = repo.person_records(session, key)
        except ObservatoireError:
            key = repo.person_of_record(session, text)
            if key is None:
                raise ObservatoireError(
                    f"Ni une personne ni un enregistrement connu : {text!r}. Copiez "
                    "l'identifiant affiché sous un enregistrement de la paire en revue."
                ) from None
            records = repo.person_records(session, key)
    return PersonView(key, tuple(records), record_cards(engine, records))


def persons_of(engine: Engine, keys: Iterable[str]) -> dict[str, str | None]:
    """The person each record belongs to in the latest run."""
    with Session(engine) as session:
        return {k: repo.person_of_record(session, k) for k in keys}


def split_person(engine: Engine, person_key: str, moved: Iterable[str], reviewer: str) -> int:
    with Session(engine) as session, session.begin():
        return repo.split_person(session, person_key, moved, reviewer)
