"""Tables of count-night operations: submissions, corrections, practice entries, settings.

Added by migration 0005. The observation itself stays in ``observation`` (`tables.py`);
these tables hold what live entry adds around it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now


class CampaignOptionRow(Base):
    """Per-campaign switches: training mode, and who locked the campaign and when."""

    __tablename__ = "campaign_option"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    # In training mode, entries go to ``practice_observation`` and never reach results.
    training: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    locked_by: Mapped[str | None] = mapped_column(String(64))
    # When entry (or training) was opened: team codes expire a day after a late opening
    # (migration 0012, `observatoire.countnight.entry.codes_close_at`).
    codes_opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ObservationSubmissionRow(Base):
    """How an observation arrived: questionnaire version, channel, warnings, revision."""

    __tablename__ = "observation_submission"

    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True
    )
    questionnaire_version: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class ObservationRevisionRow(Base):
    """One correction of an observation: the values before and after, who, when and why."""

    __tablename__ = "observation_revision"
    __table_args__ = (UniqueConstraint("observation_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    revised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)


class PracticeObservationRow(Base):
    """An entry made in training mode: same shape as an observation, kept out of results."""

    __tablename__ = "practice_observation"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    submission_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    sector_id: Mapped[int] = mapped_column(ForeignKey("sector.id", ondelete="CASCADE"))
    situation: Mapped[str] = mapped_column(String(32))
    collected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
