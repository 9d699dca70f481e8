"""Yearly targets live in the convention: ``indicator_target`` is dropped, its rows moved
into a new version of the convention that covers their year.

Before, a target could be typed on the indicators page (table ``indicator_target``, 0006)
or in the convention (``convention_version``, 0017): two paths, and the execution report
read only the second. Each old target becomes a target of the convention covering its year
(the latest stored version, else the convention shipped with the package), set on every
action that has the indicator, or on an action « Objectifs repris de la page Indicateurs »
added when none has it. A year no convention covers gets a one-period document of that
action alone. The new versions carry the note ``NOTE`` and the author of the old rows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

import copy
import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

NOTE = "migration 0018 : objectifs de la page Indicateurs repris dans la convention"
# As `observatoire.evaluation.convention.SHIPPED_DIR` when this migration was written.
_SHIPPED = Path(__file__).resolve().parents[3] / "evaluation" / "conventions"
_ACTION = "objectifs-repris"


def _tables():
    territory = sa.table("territory", sa.column("id", sa.Integer),
                         sa.column("slug", sa.String))
    version = sa.table("convention_version", sa.column("id", sa.Integer),
                       sa.column("territory_id", sa.Integer), sa.column("period", sa.String),
                       sa.column("version", sa.Integer), sa.column("document", sa.JSON),
                       sa.column("saved_at", sa.DateTime(timezone=True)),
                       sa.column("saved_by", sa.String), sa.column("note", sa.Text))
    return territory, version


def _shipped(slug: str) -> list[dict]:
    found = []
    for path in sorted(_SHIPPED.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and document.get("territory") == slug:
            # As stored: JSON (years as text keys).
            found.append(json.loads(json.dumps(document, default=str)))
    return found


def _period(document: dict) -> tuple[int, int]:
    first, last = document["period"]
    return int(first), int(last)


def _key(period: tuple[int, int]) -> str:
    return f"{period[0]}-{period[1]}"


def _runs(years: list[int]) -> list[tuple[int, int]]:
    """Consecutive years as periods: [2019, 2020, 2027] -> [(2019, 2020), (2027, 2027)]."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return [(a, b) for a, b in runs]


def _set_targets(document: dict, rows: list) -> dict:
    """``document`` with each old target (indicator_id, year, target, convention) set."""
    document = copy.deepcopy(document)
    actions = document.setdefault("actions", [])
    for row in rows:
        places = [i for a in actions for i in a.get("indicators", [])
                  if i.get("id") == row.indicator_id and i.get("catalogue")]
        if not places:
            spare = next((a for a in actions if a.get("number") == _ACTION), None)
            if spare is None:
                spare = {"number": _ACTION, "priority": 5,
                         "title": "Objectifs repris de la page Indicateurs",
                         "description": "Objectifs saisis sur la page Indicateurs avant que "
                                        "les objectifs ne soient tenus dans la convention.",
                         "indicators": []}
                actions.append(spare)
            place = {"id": row.indicator_id, "catalogue": True, "targets": {}}
            spare.setdefault("indicators", []).append(place)
            places = [place]
        for place in places:
            place.setdefault("targets", {})[str(int(row.year))] = float(row.target)
        if row.convention:
            spare = next((a for a in actions if a.get("number") == _ACTION), None)
            if spare is not None and row.convention not in spare.get("description", ""):
                spare["description"] += f" Référence : {row.convention}."
    return document


def upgrade() -> None:
    bind = op.get_bind()
    territory, version = _tables()
    old = sa.table("indicator_target", sa.column("territory_id", sa.Integer),
                   sa.column("indicator_id", sa.String), sa.column("year", sa.Integer),
                   sa.column("target", sa.Float), sa.column("convention", sa.Text),
                   sa.column("updated_by", sa.String))
    rows = bind.execute(sa.select(old).order_by(old.c.territory_id, old.c.indicator_id,
                                                old.c.year)).all()
    slugs = dict(bind.execute(sa.select(territory.c.id, territory.c.slug)).all())
    now = dt.datetime.now(dt.UTC)
    for territory_id in sorted({r.territory_id for r in rows}):
        mine = [r for r in rows if r.territory_id == territory_id]
        slug = slugs[territory_id]
        stored = bind.execute(
            sa.select(version.c.period, version.c.version, version.c.document)
            .where(version.c.territory_id == territory_id)
            .order_by(version.c.period, version.c.version)).all()
        latest = {period: (number, document) for period, number, document in stored}
        # The documents a year may go to: stored ones, then shipped ones not stored yet.
        documents = {p: (n, d) for p, (n, d) in latest.items()}
        for shipped in _shipped(slug):
            documents.setdefault(_key(_period(shipped)), (0, shipped))

        def covering(year: int, documents=documents) -> str | None:
            periods = [p for p, (_, d) in documents.items()
                       if _period(d)[0] <= year <= _period(d)[1]]
            # As `current_convention`: the one that ends latest.
            return max(periods, key=lambda p: _period(documents[p][1])[1], default=None)

        uncovered = sorted({int(r.year) for r in mine if covering(int(r.year)) is None})
        for first, last in _runs(uncovered):
            documents[_key((first, last))] = (0, {
                "territory": slug, "period": [first, last],
                "title": f"Objectifs {first}-{last} hors convention (repris de la page "
                         "Indicateurs)" if first != last else
                         f"Objectifs {first} hors convention (repris de la page Indicateurs)",
                "report_deadline": "09-30", "source": NOTE, "actions": []})
        by_period: dict[str, list] = {}
        for row in mine:
            by_period.setdefault(covering(int(row.year)), []).append(row)
        for period, targets in sorted(by_period.items()):
            number, document = documents[period]
            actor = targets[-1].updated_by or "migration"
            if number == 0 and period in {_key(_period(s)) for s in _shipped(slug)}:
                # The shipped convention becomes version 1, as `seed_conventions` stores it.
                number = 1
                bind.execute(version.insert().values(
                    territory_id=territory_id, period=period, version=number,
                    document=document, saved_at=now, saved_by="observatoire",
                    note="convention livrée avec l'observatoire (annexes transcrites)"))
            bind.execute(version.insert().values(
                territory_id=territory_id, period=period, version=number + 1,
                document=_set_targets(document, targets), saved_at=now, saved_by=actor,
                note=NOTE))
    op.drop_table("indicator_target")


def downgrade() -> None:
    """The table again, with the catalogue indicators' yearly targets of the latest version
    of each convention (the versions stay: they are history)."""
    target = op.create_table(
        "indicator_target",
        sa.Column("id", sa.Integer),
        sa.Column("territory_id", sa.Integer, nullable=False),
        sa.Column("indicator_id", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("target", sa.Float, nullable=False),
        sa.Column("convention", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_indicator_target"),
        sa.ForeignKeyConstraint(["territory_id"], ["territory.id"], ondelete="CASCADE",
                                name="fk_indicator_target_territory_id_territory"),
        sa.UniqueConstraint("territory_id", "indicator_id", "year",
                            name="uq_indicator_target_territory_id"),
    )
    bind = op.get_bind()
    _, version = _tables()
    latest: dict[tuple[int, str], tuple] = {}
    for row in bind.execute(sa.select(version).order_by(version.c.version)).all():
        latest[(row.territory_id, row.period)] = row
    kept: dict[tuple[int, str, int], dict] = {}
    for (territory_id, _), row in sorted(latest.items()):
        for action in row.document.get("actions", []):
            for indicator in action.get("indicators", []):
                if not indicator.get("catalogue"):
                    continue
                for year, value in indicator.get("targets", {}).items():
                    if str(year).isdigit():
                        kept.setdefault((territory_id, indicator["id"], int(year)), {
                            "territory_id": territory_id, "indicator_id": indicator["id"],
                            "year": int(year), "target": float(value),
                            "convention": row.document.get("title"),
                            "updated_at": row.saved_at, "updated_by": row.saved_by})
    if kept:
        op.bulk_insert(target, list(kept.values()))
