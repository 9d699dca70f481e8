"""A *Logement d'abord* convention as data: its period, actions, indicators and yearly targets.

Each convention that a territory signs with the State (art. 2 of the AMI conventions) lists
actions, each with an objective, expected results and indicators "defined for each action
and annexed", and obliges the territory to a yearly execution report. The conventions of
Dijon Métropole (2023-2025) and Aix-Marseille-Provence (2021-2022) ship with the package,
transcribed from their published annexes (`conventions/*.yaml`, the source written at the
top of each file); a territory adds its own in ``OBSERVATOIRE_CONVENTIONS_DIR``.

    convention = load_convention("dijon-metropole", 2025)
    convention.target(indicator, 2025)   # (40.0, 2025): the target and the year it is for
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from observatoire.indicators.catalogue import PRIORITIES, load_catalogue
from observatoire.model import ObservatoireError

SHIPPED_DIR = Path(__file__).with_name("conventions")
CONVENTIONS_DIR_ENV = "OBSERVATOIRE_CONVENTIONS_DIR"
EACH_YEAR = "each_year"  # a target the text gives without a year: it holds every year


class ConventionError(ObservatoireError, ValueError):
    """A convention file that cannot be read, or no convention for a territory and year."""


class ConventionIndicator(BaseModel):
    """An indicator of an action: the catalogue's (``catalogue: true``, computed from the
    data) or the convention's own (figures entered by staff)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    catalogue: bool = False
    label: str | None = None
    unit: str | None = None
    good: str | None = None  # "up" | "down" | "none"
    targets: dict[str, float] = Field(default_factory=dict)  # year (or each_year) -> target
    baseline: dict[str, float] = Field(default_factory=dict)

    @field_validator("targets", "baseline", mode="before")
    @classmethod
    def _years_as_text(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def described(self) -> ConventionIndicator:
        """With the catalogue's label, unit and direction filled in for its indicators."""
        if not self.catalogue:
            return self
        entry = load_catalogue()[self.id]
        return self.model_copy(update={"label": self.label or entry.label,
                                       "unit": self.unit or entry.unit,
                                       "good": self.good or entry.good})


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str
    title: str
    description: str = ""
    objective: str = ""
    expected: str = ""
    priority: int
    axis: str = ""  # the AMI's axis or the plan's measure, as the convention words it
    pilot: str = ""
    partners: list[str] = Field(default_factory=list)
    budget: dict[int, float] = Field(default_factory=dict)  # year -> amount requested (€)
    cofinancing: dict[int, float] = Field(default_factory=dict)  # year -> other funders (€)
    indicators: list[ConventionIndicator] = Field(default_factory=list)

    @field_validator("number", mode="before")
    @classmethod
    def _number_as_text(cls, value: object) -> object:
        return str(value)

    @field_validator("priority")
    @classmethod
    def _known_priority(cls, value: int) -> int:
        if value not in PRIORITIES:
            raise ValueError(f"priorité {value} inconnue (1 à 5, les priorités du plan)")
        return value

    @property
    def priority_label(self) -> str:
        return PRIORITIES[self.priority]


class Convention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    territory: str
    title: str
    period: tuple[int, int]
    signatories: list[str] = Field(default_factory=list)
    report_deadline: str  # "MM-DD" of the year after the one reported
    clawback: str = ""
    source: str
    state_funding: dict[int, float] = Field(default_factory=dict)
    actions: list[Action]
    # The execution report's comment of each action, year by year (year -> number -> text).
    comments: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("comments", mode="before")
    @classmethod
    def _comment_years_as_text(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    def with_comments(self, year: int, comments: dict[str, str]) -> Convention:
        """The same convention with the report comments of ``year`` replaced (empty ones
        dropped)."""
        kept = {n: t.strip() for n, t in comments.items() if t and t.strip()}
        others = {y: c for y, c in self.comments.items() if y != str(year)}
        return self.model_copy(update={"comments": others | ({str(year): kept} if kept
                                                             else {})})

    def covers(self, year: int) -> bool:
        return self.period[0] <= year <= self.period[1]

    def deadline(self, year: int) -> dt.date:
        """When the execution report of ``year`` is due."""
        month, day = (int(part) for part in self.report_deadline.split("-"))
        return dt.date(year + 1, month, day)

    def indicators(self) -> list[tuple[Action, ConventionIndicator]]:
        return [(a, i.described()) for a in self.actions for i in a.indicators]

    def targets_by_year(self) -> list[tuple[str, int, float]]:
        """``(indicator id, year, target)`` for each year of the period that has a target
        (`target`: the year's own, one for each year, or the latest earlier one); an
        indicator of several actions counts once, its first action's target."""
        found: dict[tuple[str, int], float] = {}
        for _, indicator in self.indicators():
            for year in range(self.period[0], self.period[1] + 1):
                target, _ = self.target(indicator, year)
                if target is not None:
                    found.setdefault((indicator.id, year), target)
        return [(i, y, t) for (i, y), t in found.items()]

    def with_target(self, indicator_id: str, year: int, target: float | None,
                    action: str | None = None) -> Convention:
        """The same convention with the target of ``indicator_id`` for ``year`` set (or
        removed when ``None``), on ``action`` or on every action that has the indicator."""
        if not self.covers(year):
            raise ConventionError(
                f"{year} est hors de la période de la convention ({self.period[0]}-"
                f"{self.period[1]}) : choisissez une année de la période.")
        having = [a.number for a in self.actions if any(i.id == indicator_id
                                                        for i in a.indicators)]
        if action is not None and action not in having:
            having = []
        elif action is not None:
            having = [action]
        if not having:
            where = f"l'action {action}" if action else "aucune action"
            raise ConventionError(
                f"L'indicateur {indicator_id!r} n'est pas dans {where} de la convention "
                f"{self.period[0]}-{self.period[1]} : ajoutez-le à une action (page "
                "Convention, ou observatoire convention export puis import).")
        actions = []
        for a in self.actions:
            if a.number in having:
                indicators = []
                for i in a.indicators:
                    if i.id == indicator_id:
                        targets = {k: v for k, v in i.targets.items() if k != str(year)}
                        if target is not None:
                            targets[str(year)] = float(target)
                        i = i.model_copy(update={"targets": targets})
                    indicators.append(i)
                a = a.model_copy(update={"indicators": indicators})
            actions.append(a)
        return self.model_copy(update={"actions": actions})

    @staticmethod
    def target(indicator: ConventionIndicator, year: int) -> tuple[float | None, int | None]:
        """The indicator's target for ``year`` and the year it was set for: the year's own,
        else one that holds every year, else the latest earlier one (``None`` without)."""
        if str(year) in indicator.targets:
            return indicator.targets[str(year)], year
        if EACH_YEAR in indicator.targets:
            return indicator.targets[EACH_YEAR], year
        earlier = sorted(int(y) for y in indicator.targets if y.isdigit() and int(y) < year)
        if earlier:
            return indicator.targets[str(earlier[-1])], earlier[-1]
        return None, None


def _french(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"])
        kind = {"missing": "champ obligatoire absent", "extra_forbidden": "champ inconnu",
                "int_parsing": "nombre entier attendu", "float_parsing": "nombre attendu",
                }.get(item["type"], item["msg"])
        parts.append(f"{where} : {kind}")
    return " ; ".join(parts)


def read_convention(path: Path) -> Convention:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConventionError(f"{path} n'est pas en UTF-8 : enregistrez-le en UTF-8.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark else ""
        raise ConventionError(f"{path} : YAML illisible{where}.") from exc
    try:
        convention = Convention.model_validate(data)
    except ValidationError as exc:
        raise ConventionError(f"{path} : {_french(exc)}.") from exc
    for _, indicator in convention.indicators():
        if indicator.catalogue:
            continue
        if not indicator.label or not indicator.unit:
            raise ConventionError(f"{path} : l'indicateur {indicator.id!r} n'est pas celui du "
                                  "catalogue : donnez son label et son unit.")
    return convention


@cache
def _shipped() -> tuple[Convention, ...]:
    return tuple(read_convention(p) for p in sorted(SHIPPED_DIR.glob("*.yaml")))


def all_conventions() -> list[Convention]:
    """The shipped conventions and the territory's own (``OBSERVATOIRE_CONVENTIONS_DIR``)."""
    found = list(_shipped())
    own = os.environ.get(CONVENTIONS_DIR_ENV)
    if own:
        found += [read_convention(p) for p in sorted(Path(own).glob("*.yaml"))]
    return found


def load_convention(territory_slug: str, year: int | None = None) -> Convention:
    """The convention of a territory covering ``year`` (the latest one without a year)."""
    mine = [c for c in all_conventions() if c.territory == territory_slug]
    if year is not None:
        covering = [c for c in mine if c.covers(year)]
        if not covering:
            periods = ", ".join(f"{c.period[0]}-{c.period[1]}" for c in mine) or "aucune"
            raise ConventionError(
                f"Aucune convention de {territory_slug} ne couvre {year} (conventions : "
                f"{periods}). Ajoutez-la dans {CONVENTIONS_DIR_ENV} (format : "
                f"{SHIPPED_DIR.name}/*.yaml du paquet)."
            )
        mine = covering
    if not mine:
        known = sorted({c.territory for c in all_conventions()})
        raise ConventionError(
            f"Aucune convention pour le territoire {territory_slug!r} (conventions livrées : "
            f"{', '.join(known)}). Ajoutez la vôtre dans {CONVENTIONS_DIR_ENV}."
        )
    return max(mine, key=lambda c: c.period[1])
