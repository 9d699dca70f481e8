"""Factories for the count-night tests (imported by tests/test_countnight*.py and
tests/test_entry*.py): a two-commune territory, an open campaign with its teams."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from shapely.geometry import box
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.countnight import lifecycle, team_sheets
from observatoire.model import Commune, Territory, TerritoryKind
from observatoire.store import repository
from observatoire.store.db import upgrade_database
from observatoire.survey import Submission

NIGHT = dt.date(2026, 1, 29)


@dataclass(frozen=True)
class Night:
    campaign_id: int
    teams: list[str]  # team codes, one sector each
    sectors: dict[str, str]  # team code -> sector code


def small_territory() -> Territory:
    return Territory(
        slug="test-territoire",
        name="Territoire de test",
        kind=TerritoryKind.CUSTOM,
        cog_year=2024,
        communes=[
            Commune(code="21231", name="Dijon", population=159346, cog_year=2024,
                    geometry_wkb=box(5.00, 47.30, 5.02, 47.32).wkb),
            Commune(code="21166", name="Chenôve", population=13993, cog_year=2024,
                    geometry_wkb=box(5.00, 47.28, 5.02, 47.30).wkb),
        ],
    )


def make_night(engine: Engine, *, status: str = "open", training: bool = False) -> Night:
    """Schema, territory, a campaign cut in ~1 km sectors, one team per sector."""
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, small_territory())
    campaign_id = lifecycle.create_campaign(
        engine, "test-territoire", "NDLS test", NIGHT, questionnaire_version="ndls-2026",
        sector_size_m=1000, actor="test",
    )
    if status == "open":
        lifecycle.open_campaign(engine, campaign_id, "test")
    if training:
        lifecycle.set_training(engine, campaign_id, True, "test")
    sheet = team_sheets.team_sheets_table(engine, campaign_id)
    return Night(
        campaign_id=campaign_id,
        teams=list(sheet["team_code"]),
        sectors=dict(zip(sheet["team_code"], sheet["sector_code"], strict=True)),
    )


def interview(team_code: str, sector_code: str | None = None, **answers) -> Submission:
    values = {
        "situation": "interviewed", "sex": "M", "age_band": "35-44", "sleeping_place": "rue",
        "with_animals": False, "household": "alone", "children_count": 0,
        "homeless_duration": "1_5_ans", "calls_115": "jamais",
    } | answers  # fmt: skip
    return Submission(
        submission_uuid=uuid.uuid4(),
        team_code=team_code,
        sector_code=sector_code,
        collected_at=dt.datetime(2026, 1, 29, 23, 5),
        answers={k: v for k, v in values.items() if v is not None},
    )


def sign_in_staff(app, login: str = "camille.test", engine: Engine | None = None) -> None:  # noqa: ANN001
    """Sign ``login`` (a staff account, created on first use) into the AppTest ``app`` as
    the sign-in page does: the session entry every page re-checks against the stored
    account. ``engine``: the database (by default the configured one)."""
    from observatoire.access import SESSION_KEY, session_entry
    from observatoire.config import load_settings
    from observatoire.store import access_repository
    from observatoire.store.db import make_engine

    own = engine is None
    engine = make_engine(load_settings().database_url) if own else engine
    with Session(engine) as session, session.begin():
        if access_repository.account_user(session, login) is None:
            access_repository.create_user(session, login, login.title(), "staff", None,
                                          actor="test")
        user = access_repository.account_user(session, login)
    if own:
        engine.dispose()
    app.session_state[SESSION_KEY] = session_entry(user)
