"""Linkage storage: the records to link, reviewers' decisions and splits, a run's results.

Every function takes an open `Session`; the caller owns the transaction. Records are named
by stable keys (`partner_key`, `observation_key`) so that decisions survive re-runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.model import ObservatoireError, ReviewDecision
from observatoire.store.linkage_tables import (
    LinkageRunRow,
    ObservationPersonRow,
    PersonSplitRow,
    ReviewDecisionRow,
    ReviewPairRow,
)
from observatoire.store.repository import record_audit
from observatoire.store.tables import ObservationRow, PersonRow, SourceRecordRow

NIGHT_SOURCE = "nuit"


@dataclass(frozen=True)
class PeopleFigure:
    """A linkage run's figures: the estimate of distinct people and its 90 % interval."""

    run_id: int
    records: int
    persons: int
    people: int
    low: int
    high: int
    review_pairs: int
    after_review: tuple[int, int]
    """The 90 % interval once the run's review queue is answered."""

    @property
    def width(self) -> int:
        return self.high - self.low

    @property
    def width_after_review(self) -> int:
        """What remains of the width once the queue is answered: the uncertain pairs left
        out of the queue and the model's known error."""
        return self.after_review[1] - self.after_review[0]


def partner_key(source: str, source_row_key: str) -> str:
    return f"{source}:{source_row_key}"


def observation_key(submission_uuid: str) -> str:
    return f"{NIGHT_SOURCE}:{submission_uuid}"


def person_key(cluster_id: str) -> str:
    """The stored key of a person (at most 64 characters, stable for the same cluster id)."""
    if len(cluster_id) <= 64:
        return cluster_id
    return "P-" + hashlib.sha256(cluster_id.encode("utf-8")).hexdigest()[:40]


# --- records ---------------------------------------------------------------------------------


def partner_records(session: Session) -> pd.DataFrame:
    """Every stored partner row: ``record_key``, source, commune, sex, birth year, last
    contact, ``pseudonyms`` and ``attributes`` (dicts)."""
    rows = session.execute(
        select(SourceRecordRow.source, SourceRecordRow.source_row_key,
               SourceRecordRow.commune_code, SourceRecordRow.sex, SourceRecordRow.birth_year,
               SourceRecordRow.last_contact, SourceRecordRow.pseudonyms,
               SourceRecordRow.attributes)
        .order_by(SourceRecordRow.id)
    ).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=["source", "source_row_key", "commune_code", "sex",
                                        "birth_year", "last_contact", "pseudonyms",
                                        "attributes"])  # fmt: skip
    frame.insert(0, "record_key", [partner_key(s, k) for s, k in
                                   zip(frame["source"], frame["source_row_key"], strict=True)])
    return frame


def night_observations(session: Session) -> pd.DataFrame:
    """Count-night observations with what linkage uses: ``record_key``, commune, sex, age
    band, time, position, and the answers ``initials`` and ``birth_year`` when given."""
    rows = session.execute(
        select(ObservationRow.submission_uuid, ObservationRow.commune_code, ObservationRow.sex,
               ObservationRow.age_band, ObservationRow.collected_at, ObservationRow.latitude,
               ObservationRow.longitude, ObservationRow.answers, ObservationRow.situation)
        .order_by(ObservationRow.id)
    ).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=["submission_uuid", "commune_code", "sex", "age_band",
                                        "collected_at", "latitude", "longitude", "answers",
                                        "situation"])  # fmt: skip
    answers = frame["answers"].map(lambda a: a or {})
    frame["initials"] = answers.map(lambda a: a.get("initials") or "")
    frame["birth_year"] = answers.map(lambda a: a.get("birth_year"))
    frame.insert(0, "record_key", [observation_key(u) for u in frame["submission_uuid"]])
    return frame.drop(columns="answers")


# --- decisions -------------------------------------------------------------------------------


def _ordered(a: str, b: str) -> tuple[str, str]:
    if a == b:
        raise ObservatoireError("Une décision porte sur deux enregistrements différents.")
    return (a, b) if a < b else (b, a)


def add_decision(
    session: Session,
    record_a: str,
    record_b: str,
    decision: ReviewDecision | str,
    reviewer: str,
    probability: float | None = None,
    origin: str = "revue",
) -> ReviewDecisionRow:
    """Store a reviewer's answer on a pair (kept in the history; the latest one counts)."""
    if decision not in ReviewDecision.choices():
        raise ObservatoireError(f"Décision inconnue : {decision!r}. Valeurs possibles : "
                                f"{', '.join(ReviewDecision.choices())}.")
    decision = ReviewDecision(decision).value
    a, b = _ordered(record_a, record_b)
    row = ReviewDecisionRow(record_a=a, record_b=b, decision=decision, reviewer=reviewer,
                            probability=probability, origin=origin)  # fmt: skip
    session.add(row)
    if origin == "revue":
        record_audit(session, reviewer, "linkage.decision", record_a=a, record_b=b,
                     decision=decision)  # fmt: skip
    session.flush()
    return row


def latest_decisions(session: Session) -> pd.DataFrame:
    """The latest decision per pair: ``record_id_a``, ``record_id_b``, ``decision``,
    ``reviewer``, ``decided_at`` (the input of `observatoire.linkage.engine.link`)."""
    rows = session.execute(
        select(ReviewDecisionRow.record_a, ReviewDecisionRow.record_b,
               ReviewDecisionRow.decision, ReviewDecisionRow.reviewer,
               ReviewDecisionRow.decided_at, ReviewDecisionRow.id)
        .order_by(ReviewDecisionRow.id)
    ).all()  # fmt: skip
    frame = pd.DataFrame(rows, columns=["record_id_a", "record_id_b", "decision", "reviewer",
                                        "decided_at", "id"])  # fmt: skip
    frame = frame.drop_duplicates(["record_id_a", "record_id_b"], keep="last")
    return frame.drop(columns="id").reset_index(drop=True)


def undo_decision(session: Session, reviewer: str) -> tuple[str, str, str] | None:
    """Withdraw ``reviewer``'s latest review answer (not a split): the pair goes back to
    the queue, the answer before it (if any) counts again. The audit log keeps what was
    withdrawn. Returns ``(record_a, record_b, decision)``, or ``None`` if nothing to undo."""
    row = session.scalar(
        select(ReviewDecisionRow)
        .where(ReviewDecisionRow.reviewer == reviewer, ReviewDecisionRow.origin == "revue")
        .order_by(ReviewDecisionRow.id.desc()).limit(1)
    )
    if row is None:
        return None
    undone = (row.record_a, row.record_b, row.decision)
    session.delete(row)
    record_audit(session, reviewer, "linkage.decision_undone", record_a=row.record_a,
                 record_b=row.record_b, decision=row.decision)  # fmt: skip
    session.flush()
    return undone


def person_of_record(session: Session, key: str) -> str | None:
    """The stored person (``person_key``) a record belongs to in the latest run."""
    if key.startswith(f"{NIGHT_SOURCE}:"):
        uuid = key[len(NIGHT_SOURCE) + 1 :]
        return session.scalar(
            select(PersonRow.person_key)
            .join(ObservationPersonRow, ObservationPersonRow.person_id == PersonRow.id)
            .join(ObservationRow, ObservationRow.id == ObservationPersonRow.observation_id)
            .where(ObservationRow.submission_uuid == uuid)
        )
    source, _, row_key = key.partition(":")
    return session.scalar(
        select(PersonRow.person_key)
        .join(SourceRecordRow, SourceRecordRow.person_id == PersonRow.id)
        .where(SourceRecordRow.source == source, SourceRecordRow.source_row_key == row_key)
    )


def person_records(session: Session, key: str) -> list[str]:
    """Stable keys of the records of a stored person (partner rows and observations)."""
    person = session.scalar(select(PersonRow).where(PersonRow.person_key == key))
    if person is None:
        raise ObservatoireError(f"Personne inconnue : {key!r}. Relancez le rapprochement ?")
    partners = session.execute(
        select(SourceRecordRow.source, SourceRecordRow.source_row_key)
        .where(SourceRecordRow.person_id == person.id)
    ).all()
    night = session.scalars(
        select(ObservationRow.submission_uuid)
        .join(ObservationPersonRow, ObservationPersonRow.observation_id == ObservationRow.id)
        .where(ObservationPersonRow.person_id == person.id)
    ).all()
    return sorted([partner_key(s, k) for s, k in partners] + [observation_key(u) for u in night])


def split_person(session: Session, key: str, moved: Iterable[str], reviewer: str) -> int:
    """Split a wrongly merged person: each ``moved`` record is not the same person as any
    record kept. Stored as non-match decisions (they override the model on every re-run)
    and a `PersonSplitRow`. Returns how many decisions were stored."""
    members = person_records(session, key)
    moved = sorted(set(moved))
    unknown = set(moved) - set(members)
    if unknown:
        raise ObservatoireError(
            f"Enregistrement(s) absent(s) de la personne {key} : {', '.join(sorted(unknown))}."
        )
    kept = [r for r in members if r not in moved]
    if not moved or not kept:
        raise ObservatoireError(
            "Choisissez les enregistrements à détacher : au moins un, et pas tous."
        )
    for a in moved:
        for b in kept:
            add_decision(session, a, b, ReviewDecision.NON_MATCH, reviewer, origin="scission")
    session.add(PersonSplitRow(person_key=key, moved=moved, kept=kept, reviewer=reviewer))
    record_audit(session, reviewer, "linkage.split", person=key, moved=len(moved),
                 kept=len(kept))  # fmt: skip
    session.flush()
    return len(moved) * len(kept)


# --- runs ------------------------------------------------------------------------------------


def save_run(
    session: Session,
    clusters: pd.DataFrame,
    queue: pd.DataFrame,
    *,
    actor: str,
    estimate: Mapping[str, int],
    settings: Mapping[str, Any],
    seconds: Mapping[str, float],
    decisions_used: int,
    retrained: bool,
    queue_limit: int = 5000,
    estimate_detail: Mapping[str, Any] | None = None,
) -> LinkageRunRow:
    """Store a run's persons (replacing the previous run's), each record's person, and its
    review queue. ``clusters``: ``record_id`` (stable key), ``person_id``,
    ``match_confidence``, ``person_confidence``; ``queue``: ``record_id_a``,
    ``record_id_b``, ``probability`` and one column per comparison (levels). The caller
    refreshes the dashboards' aggregates (`feed_aggregates.refresh_feed_aggregates`), in the
    same transaction."""
    if "expected_people" not in clusters:
        clusters = clusters.assign(expected_people=1.0)
    persons = clusters.groupby("person_id").agg(
        confidence=("person_confidence", "min"), record_count=("record_id", "size"),
        expected_people=("expected_people", "min"))
    persons.index = [person_key(p) for p in persons.index]
    existing = dict(session.execute(select(PersonRow.person_key, PersonRow.id)).all())
    gone = [i for k, i in existing.items() if k not in persons.index]
    session.execute(update(SourceRecordRow).values(person_id=None))
    session.execute(delete(ObservationPersonRow))
    for start in range(0, len(gone), 500):
        session.execute(delete(PersonRow).where(PersonRow.id.in_(gone[start : start + 500])))
    fresh = [{"person_key": k, "confidence": float(r.confidence),
              "record_count": int(r.record_count), "expected_people": float(r.expected_people)}
             for k, r in persons.iterrows() if k not in existing]  # fmt: skip
    if fresh:
        session.execute(PersonRow.__table__.insert(), fresh)
    kept = [{"pid": existing[k], "c": float(r.confidence), "n": int(r.record_count),
             "e": float(r.expected_people)}
            for k, r in persons.iterrows() if k in existing]  # fmt: skip
    if kept:
        table = PersonRow.__table__
        session.execute(
            table.update().where(table.c.id == bindparam("pid"))
            .values(confidence=bindparam("c"), record_count=bindparam("n"),
                    expected_people=bindparam("e")), kept,
        )  # fmt: skip
    ids = dict(session.execute(select(PersonRow.person_key, PersonRow.id)).all())
    person_of = {r: ids[person_key(p)] for r, p in
                 zip(clusters["record_id"], clusters["person_id"], strict=True)}  # fmt: skip
    partner_rows = session.execute(
        select(SourceRecordRow.id, SourceRecordRow.source, SourceRecordRow.source_row_key)
    ).all()
    values = [{"rid": rid, "pid": person_of[partner_key(s, k)]} for rid, s, k in partner_rows
              if partner_key(s, k) in person_of]  # fmt: skip
    if values:
        table = SourceRecordRow.__table__
        session.execute(
            table.update().where(table.c.id == bindparam("rid"))
            .values(person_id=bindparam("pid")), values,
        )  # fmt: skip
    confidence = dict(zip(clusters["record_id"], clusters["match_confidence"], strict=True))
    night = session.execute(select(ObservationRow.id, ObservationRow.submission_uuid)).all()
    links = [{"observation_id": oid, "person_id": person_of[observation_key(u)],
              "match_confidence": float(confidence[observation_key(u)])}
             for oid, u in night if observation_key(u) in person_of]  # fmt: skip
    if links:
        session.execute(ObservationPersonRow.__table__.insert(), links)

    run = LinkageRunRow(
        actor=actor, records=len(clusters), persons=len(persons),
        people_estimate=int(estimate["people"]), people_low=int(estimate["low"]),
        people_high=int(estimate["high"]), review_pairs=len(queue),
        decisions_used=decisions_used, retrained=retrained, settings=dict(settings),
        seconds={k: round(float(v), 3) for k, v in seconds.items()},
        estimate_detail=dict(estimate_detail or {}),
    )  # fmt: skip
    session.add(run)
    session.flush()
    session.execute(delete(ReviewPairRow).where(ReviewPairRow.run_id != run.id))
    levels = [c for c in queue.columns
              if c not in ("record_id_a", "record_id_b", "probability", "impact")]
    pairs = [{"run_id": run.id, "rank": rank, "record_a": min(r.record_id_a, r.record_id_b),
              "record_b": max(r.record_id_a, r.record_id_b),
              "probability": float(r.probability),
              "levels": {c: int(getattr(r, c)) for c in levels}}
             for rank, r in enumerate(queue.head(queue_limit).itertuples(index=False))]  # fmt: skip
    if pairs:
        session.execute(ReviewPairRow.__table__.insert(), pairs)
    record_audit(session, actor, "linkage.run", records=len(clusters), persons=len(persons),
                 review_pairs=len(queue))  # fmt: skip
    return run


def latest_run(session: Session) -> LinkageRunRow | None:
    return session.scalar(select(LinkageRunRow).order_by(LinkageRunRow.id.desc()).limit(1))


def people_estimate(session: Session) -> PeopleFigure | None:
    """The latest linkage run's estimate of distinct people (``None`` before any run): the
    one figure the command line, the pipeline, the dashboard and the publication show."""
    try:
        run = latest_run(session)
    except SQLAlchemyError:  # schema older than migration 0011
        session.rollback()
        return None
    if run is None:
        return None
    after = (run.estimate_detail or {}).get("after_review") or [run.people_low,
                                                                run.people_high]
    return PeopleFigure(run.id, run.records, run.persons, run.people_estimate,
                        run.people_low, run.people_high, run.review_pairs,
                        (int(after[0]), int(after[1])))  # fmt: skip


def review_queue(session: Session) -> pd.DataFrame:
    """The latest run's pairs to review with their latest decision (``None`` if none yet),
    in the run's order: ``record_a``, ``record_b``, ``probability``, ``levels``,
    ``decision``."""
    run = latest_run(session)
    columns = ["record_a", "record_b", "probability", "levels", "decision"]
    if run is None:
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(ReviewPairRow.record_a, ReviewPairRow.record_b, ReviewPairRow.probability,
               ReviewPairRow.levels)
        .where(ReviewPairRow.run_id == run.id).order_by(ReviewPairRow.rank)
    ).all()  # fmt: skip
    queue = pd.DataFrame(rows, columns=columns[:-1])
    decided = latest_decisions(session)
    answer = {(a, b): d for a, b, d in
              zip(decided["record_id_a"], decided["record_id_b"], decided["decision"],
                  strict=True)}  # fmt: skip
    queue["decision"] = [answer.get((a, b)) for a, b in
                         zip(queue["record_a"], queue["record_b"], strict=True)]  # fmt: skip
    return queue


def record_details(session: Session, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Non-identifying fields of records, by stable key, for the review page: source,
    commune, sex, birth year (or age), last contact or time seen. Never a name or a date
    of birth: they are stored only as keyed encodings."""
    keys = list(keys)
    out: dict[str, dict[str, Any]] = {}
    partner = [k for k in keys if not k.startswith(f"{NIGHT_SOURCE}:")]
    night = [k[len(NIGHT_SOURCE) + 1 :] for k in keys if k.startswith(f"{NIGHT_SOURCE}:")]
    for key in partner:
        source, _, row_key = key.partition(":")
        row = session.execute(
            select(SourceRecordRow.commune_code, SourceRecordRow.sex, SourceRecordRow.birth_year,
                   SourceRecordRow.last_contact, SourceRecordRow.attributes,
                   SourceRecordRow.pseudonyms)
            .where(SourceRecordRow.source == source, SourceRecordRow.source_row_key == row_key)
        ).first()  # fmt: skip
        if row is None:
            continue
        attributes, pseudonyms = row.attributes or {}, row.pseudonyms or {}
        out[key] = {
            "source": source, "commune": row.commune_code, "sexe": row.sex,
            "annee_naissance": row.birth_year,
            "annee_depuis_age": bool(attributes.get("annee_naissance_depuis_age")),
            "age": attributes.get("age"), "dernier_contact": row.last_contact,
            "nom_connu": bool(pseudonyms.get("nom")),
            "prenom_connu": bool(pseudonyms.get("prenom")),
            "date_complete": bool(pseudonyms.get("naissance")),
        }  # fmt: skip
    if night:
        rows = session.execute(
            select(ObservationRow.submission_uuid, ObservationRow.commune_code,
                   ObservationRow.sex, ObservationRow.age_band, ObservationRow.collected_at,
                   ObservationRow.answers)
            .where(ObservationRow.submission_uuid.in_(night))
        ).all()  # fmt: skip
        for uuid, commune, sex, band, collected, answers in rows:
            answers = answers or {}
            out[observation_key(uuid)] = {
                "source": NIGHT_SOURCE, "commune": commune, "sexe": sex,
                "annee_naissance": answers.get("birth_year"), "tranche_age": band,
                "vu_le": collected, "initiales_donnees": bool(answers.get("initials")),
            }  # fmt: skip
    return out


def count_persons(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PersonRow)) or 0
