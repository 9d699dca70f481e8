"""Tables of record linkage: reviewers' decisions, person splits, runs and their review queue.

A decision is keyed on the two records' stable keys (``source:source_row_key`` for a partner
row, ``nuit:submission_uuid`` for a count-night observation), never on database ids or person
numbers, so that it survives re-imports and re-runs. Every decision is kept (history); the
latest one per pair is the one that counts. Changing this file means writing a migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now

RECORD_KEY_LENGTH = 200


class ReviewDecisionRow(Base):
    """A reviewer's answer on a pair of records: match, non_match or unsure."""

    __tablename__ = "review_decision"
    __table_args__ = (Index("ix_review_decision_pair", "record_a", "record_b"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_a: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))  # record_a < record_b
    record_b: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    decision: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    probability: Mapped[float | None] = mapped_column(Float)  # the model's, when decided
    origin: Mapped[str] = mapped_column(String(16), default="revue")  # "revue" | "scission"


class PersonSplitRow(Base):
    """A reviewer split a person: ``moved`` records are not the same person as the others."""

    __tablename__ = "person_split"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_key: Mapped[str] = mapped_column(String(64), index=True)
    moved: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kept: Mapped[list[Any]] = mapped_column(JSON, default=list)
    reviewer: Mapped[str] = mapped_column(String(64))
    split_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class LinkageRunRow(Base):
    """One run of the linkage on the stored records: what it found, with which settings."""

    __tablename__ = "linkage_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    actor: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    people_estimate: Mapped[int] = mapped_column(Integer)
    people_low: Mapped[int] = mapped_column(Integer)
    people_high: Mapped[int] = mapped_column(Integer)
    review_pairs: Mapped[int] = mapped_column(Integer)
    decisions_used: Mapped[int] = mapped_column(Integer)
    retrained: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seconds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Added by migration 0011: ``after_review`` (the 90 % interval once the queue is
    # answered) and the ``calibration`` of the estimate. ``people_estimate``, ``people_low``
    # and ``people_high`` are *the* figure every page and command shows for the run.
    estimate_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ReviewPairRow(Base):
    """A pair of the latest run's review queue, with its similarity levels (no identifier)."""

    __tablename__ = "review_pair"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("linkage_run.id", ondelete="CASCADE"), index=True
    )
    rank: Mapped[int] = mapped_column(Integer)
    record_a: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    record_b: Mapped[str] = mapped_column(String(RECORD_KEY_LENGTH))
    probability: Mapped[float] = mapped_column(Float)
    levels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ObservationPersonRow(Base):
    """The person of a count-night observation (partner rows keep theirs in source_record)."""

    __tablename__ = "observation_person"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    match_confidence: Mapped[float] = mapped_column(Float)
