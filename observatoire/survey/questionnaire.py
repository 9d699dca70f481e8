"""Questionnaire definitions: the YAML format, its loading and its validation.

One file per questionnaire version in ``survey/`` (``survey/<version>.yaml``). A definition
has a ``version`` (the file name without ``.yaml``), a French ``title``, ``choice_lists``
(list name -> values with French labels), ``questions`` (in the order they are asked) and
``warnings`` (rules that flag a suspicious but possible response). The format is described
in ``survey/README.md``.

Loading checks the definition itself and raises `QuestionnaireError` naming the file and the
question for every fault found (not only the first one).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from observatoire.messages_fr import FileEncodingError, read_utf8, yaml_position, yaml_problem_fr
from observatoire.model import ObservatoireError

__all__ = [
    "ENVELOPE_FIELDS",
    "QUESTION_TYPES",
    "Choice",
    "Condition",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "WarningRule",
    "list_questionnaires",
    "load_questionnaire",
    "parse_questionnaire",
    "questionnaire_path",
    "questionnaires_dir",
]

SURVEY_DIR_ENV = "OBSERVATOIRE_SURVEY_DIR"
QUESTION_TYPES = ("select_one", "select_multiple", "integer", "decimal", "text", "boolean")
# Every record carries these beside its answers: no question may take their names.
ENVELOPE_FIELDS = (
    "submission_uuid", "campaign", "team_code", "sector_code", "commune_code",
    "collected_at", "received_at", "latitude", "longitude",
)  # fmt: skip
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOP_KEYS = {"version", "title", "description", "choice_lists", "questions", "warnings"}
_QUESTION_KEYS = {
    "name", "type", "label", "hint", "choices", "required", "relevant", "min", "max",
    "pattern", "pattern_message", "max_length", "uppercase",
}  # fmt: skip
_COMPARISONS = ("equals", "not_equals", "in", "not_in", "min", "max", "answered")


class QuestionnaireError(ObservatoireError):
    """A questionnaire definition that cannot be used; the message names file and question."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Condition:
    """Skip logic and rules: a comparison on one question, or a combination.

    ``kind`` is one of `_COMPARISONS` (with ``question`` and ``value``), ``all``/``any``
    (with ``items``), ``not`` (one item), or ``age_mismatch`` (``question`` is the birth year
    question, ``value`` the age band question; true when they disagree by more than a year).
    """

    kind: str
    question: str | None = None
    value: Any = None
    items: tuple[Condition, ...] = ()

    def questions(self) -> set[str]:
        """Names of the questions the condition reads."""
        names = {self.question} if self.question else set()
        if self.kind == "age_mismatch":
            names.add(self.value)
        for item in self.items:
            names |= item.questions()
        return names

    def evaluate(self, values: Mapping[str, Any], reference_year: int) -> bool:
        """Whether the condition holds for the (cleaned) ``values``; missing reads as false."""
        if self.kind == "all":
            return all(i.evaluate(values, reference_year) for i in self.items)
        if self.kind == "any":
            return any(i.evaluate(values, reference_year) for i in self.items)
        if self.kind == "not":
            return not self.items[0].evaluate(values, reference_year)
        if self.kind == "age_mismatch":
            return _age_mismatch(values.get(self.question), values.get(self.value), reference_year)
        answer = values.get(self.question)
        if self.kind == "answered":
            return (answer is not None) == bool(self.value)
        if answer is None:
            return False
        answers = answer if isinstance(answer, list) else [answer]
        if self.kind == "equals":
            return self.value in answers
        if self.kind == "not_equals":
            return self.value not in answers
        if self.kind == "in":
            return any(a in self.value for a in answers)
        if self.kind == "not_in":
            return not any(a in self.value for a in answers)
        if self.kind == "min":
            return answer >= self.value
        if self.kind == "max":
            return answer <= self.value
        raise AssertionError(self.kind)  # pragma: no cover - kinds are checked on load


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    label: str
    hint: str | None = None
    choices: str | None = None
    required: bool | Condition = False
    relevant: Condition | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    max_length: int | None = None
    uppercase: bool = False
    """Text answers upper-cased and stripped of accents and spaces before they are checked
    (initials typed ``jd`` or ``é d`` are read ``JD``, ``ED``)."""


@dataclass(frozen=True)
class WarningRule:
    message: str
    when: Condition


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str
    questions: tuple[Question, ...]
    choice_lists: Mapping[str, tuple[Choice, ...]]
    warnings: tuple[WarningRule, ...] = ()
    description: str = ""
    source: str = "<texte>"
    _by_name: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({q.name: q for q in self.questions})

    def question(self, name: str) -> Question:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"Question inconnue dans {self.version} : {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def choices(self, name: str) -> tuple[Choice, ...]:
        """Choices of the select question ``name`` (empty for other types)."""
        q = self.question(name)
        return self.choice_lists[q.choices] if q.choices else ()

    def label(self, name: str) -> str:
        """The French label of question ``name`` (the name itself when it is not a question:
        an envelope field such as ``sector_code``)."""
        return self._by_name[name].label if name in self._by_name else name

    def choice_label(self, name: str, value: Any) -> str:
        for choice in self.choices(name):
            if choice.value == value:
                return choice.label
        return str(value)


# --- files ---------------------------------------------------------------------------------


def questionnaires_dir() -> Path:
    """``$OBSERVATOIRE_SURVEY_DIR`` if set, else ``survey/`` of the repository."""
    override = os.environ.get(SURVEY_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "survey"


def list_questionnaires(directory: Path | None = None) -> list[str]:
    """Versions available (file names without ``.yaml``), sorted."""
    folder = directory or questionnaires_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def questionnaire_path(version: str, directory: Path | None = None) -> Path:
    folder = directory or questionnaires_dir()
    path = folder / f"{version}.yaml"
    if not path.is_file():
        known = ", ".join(list_questionnaires(folder)) or "aucune"
        raise QuestionnaireError(
            f"Questionnaire inconnu : {version!r} (pas de fichier {path}). Versions "
            f"disponibles : {known}."
        )
    return path


def load_questionnaire(version_or_path: str | Path) -> Questionnaire:
    """Load and check a questionnaire, by version (``"ndls-2026"``) or by file path."""
    text = str(version_or_path)
    path = Path(text) if text.endswith((".yaml", ".yml")) else questionnaire_path(text)
    if not path.is_file():
        raise QuestionnaireError(f"Fichier de questionnaire introuvable : {path}.")
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_cached(path: str, _mtime: int) -> Questionnaire:
    try:
        raw = read_utf8(Path(path), "Questionnaire")
    except FileEncodingError as exc:
        raise QuestionnaireError(str(exc)) from None
    except OSError as exc:
        raise QuestionnaireError(f"Questionnaire illisible : {path} ({exc.strerror}).") from None
    return parse_questionnaire(raw, source=path, expected_version=Path(path).stem)


# --- parsing -------------------------------------------------------------------------------


def parse_questionnaire(
    text: str, *, source: str = "<texte>", expected_version: str | None = None
) -> Questionnaire:
    """Parse a YAML definition; raise `QuestionnaireError` listing every fault."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = yaml_position(exc)
        raise QuestionnaireError(
            f"{source} : YAML illisible{f' ({where})' if where else ''} : "
            f"{yaml_problem_fr(exc)}. Vérifiez l'indentation "
            "(espaces, pas de tabulations) et les guillemets autour des libellés contenant "
            "« : »."
        ) from None
    if not isinstance(data, dict):
        raise QuestionnaireError(
            f"{source} : le fichier doit décrire un questionnaire (clés version, title, "
            "choice_lists, questions), pas "
            f"{type(data).__name__ if data is not None else 'un document vide'}."
        )
    return _Parser(source).parse(data, expected_version)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []
        # Questions read so far: conditions may only look back at them.
        self.seen: dict[str, Question] = {}

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{self.source} : {where} : {message}")

    def parse(self, data: dict, expected_version: str | None) -> Questionnaire:
        for key in sorted(set(data) - _TOP_KEYS, key=str):
            self.fail(f"clé {key!r}", f"inconnue (clés possibles : {', '.join(sorted(_TOP_KEYS))})")
        version = data.get("version")
        if not isinstance(version, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", version):
            self.fail("version", f"manquante ou invalide ({version!r}) ; exemple : ndls-2026")
        elif expected_version and version != expected_version:
            self.fail(
                "version",
                f"{version!r} ne correspond pas au nom du fichier ({expected_version}.yaml) : "
                "un fichier par version, nommé comme elle",
            )
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            self.fail("title", "titre manquant")
        lists = self.choice_lists(data.get("choice_lists") or {})
        questions = self.questions(data.get("questions"), lists)
        rules = self.warning_rules(data.get("warnings") or [], questions, lists)
        if self.errors:
            raise QuestionnaireError(
                f"Questionnaire invalide ({len(self.errors)} problème"
                f"{'s' if len(self.errors) > 1 else ''}) :\n- " + "\n- ".join(self.errors)
            )
        return Questionnaire(
            version=version,
            title=title.strip(),
            description=str(data.get("description") or "").strip(),
            questions=tuple(questions),
            choice_lists=lists,
            warnings=tuple(rules),
            source=self.source,
        )

    def choice_lists(self, raw: Any) -> dict[str, tuple[Choice, ...]]:
        if not isinstance(raw, dict):
            self.fail("choice_lists", "doit associer un nom de liste à ses choix")
            return {}
        lists: dict[str, tuple[Choice, ...]] = {}
        for name, entries in raw.items():
            where = f"liste de choix {name!r}"
            if not isinstance(entries, list) or not entries:
                self.fail(where, "doit être une liste non vide de {value, label}")
                continue
            choices, seen = [], set()
            for n, entry in enumerate(entries, start=1):
                if not isinstance(entry, dict) or "value" not in entry or "label" not in entry:
                    self.fail(where, f"choix n°{n} : il faut une valeur (value) et un libellé")
                    continue
                value = str(entry["value"])
                if value in seen:
                    self.fail(where, f"valeur {value!r} en double")
                if not value.strip() or value != value.strip():
                    self.fail(where, f"valeur {value!r} vide ou entourée d'espaces")
                seen.add(value)
                choices.append(Choice(value, str(entry["label"])))
            lists[str(name)] = tuple(choices)
        return lists

    def questions(self, raw: Any, lists: Mapping[str, tuple[Choice, ...]]) -> list[Question]:
        if not isinstance(raw, list) or not raw:
            self.fail("questions", "il faut une liste non vide de questions")
            return []
        questions: list[Question] = []
        defined: dict[str, str] = {}  # name -> type, of the questions before this one
        for n, entry in enumerate(raw, start=1):
            if not isinstance(entry, dict):
                self.fail(f"question n°{n}", "doit être un dictionnaire (name, type, label…)")
                continue
            name = entry.get("name")
            where = f"question {name!r}" if name else f"question n°{n}"
            if not isinstance(name, str) or not _NAME.match(name):
                self.fail(where, "nom manquant ou invalide (minuscules, chiffres, _)")
                continue
            if name in defined:
                self.fail(where, "nom en double : chaque question doit avoir un nom unique")
                continue
            if name in ENVELOPE_FIELDS:
                self.fail(where, f"nom réservé aux métadonnées de chaque fiche ({name})")
            for key in sorted(set(entry) - _QUESTION_KEYS, key=str):
                self.fail(where, f"clé {key!r} inconnue (clés possibles : "
                                 f"{', '.join(sorted(_QUESTION_KEYS))})")
            qtype = entry.get("type")
            if qtype not in QUESTION_TYPES:
                self.fail(where, f"type {qtype!r} inconnu (types : {', '.join(QUESTION_TYPES)})")
            label = entry.get("label")
            if not isinstance(label, str) or not label.strip():
                self.fail(where, "libellé (label) manquant")
            choices = entry.get("choices")
            if qtype in ("select_one", "select_multiple"):
                if choices not in lists:
                    known = ", ".join(lists) or "aucune"
                    self.fail(where, f"liste de choix {choices!r} inconnue (listes : {known})")
            elif choices is not None:
                self.fail(where, f"une question de type {qtype} n'a pas de liste de choix")
            required = entry.get("required", False)
            if not isinstance(required, bool):
                required = self.condition(required, where + ", required", defined, lists)
            relevant = entry.get("relevant")
            if relevant is not None:
                relevant = self.condition(relevant, where + ", relevant", defined, lists)
            low, high = entry.get("min"), entry.get("max")
            for key, bound in (("min", low), ("max", high)):
                if bound is not None and (
                    qtype not in ("integer", "decimal") or not isinstance(bound, int | float)
                ):
                    self.fail(where, f"{key} ne s'applique qu'aux nombres (et doit être un nombre)")
            if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
                self.fail(where, f"min ({low}) est supérieur à max ({high})")
            pattern = entry.get("pattern")
            if pattern is not None:
                if qtype != "text":
                    self.fail(where, "pattern ne s'applique qu'aux questions de type text")
                try:
                    re.compile(str(pattern))
                except re.error as exc:
                    self.fail(where, f"expression régulière invalide {pattern!r} ({exc})")
            max_length = entry.get("max_length")
            if max_length is not None and (qtype != "text" or not isinstance(max_length, int)):
                self.fail(where, "max_length est un entier, pour les questions de type text")
            uppercase = entry.get("uppercase", False)
            if not isinstance(uppercase, bool) or (uppercase and qtype != "text"):
                self.fail(where, "uppercase vaut true ou false, pour les questions de type text")
                uppercase = False
            defined[name] = str(qtype)
            question = Question(
                    name=name,
                    type=str(qtype),
                    label=str(label or name).strip(),
                    hint=entry.get("hint"),
                    choices=choices,
                    required=required if required is not None else False,
                    relevant=relevant,
                    min=low,
                    max=high,
                    pattern=str(pattern) if pattern is not None else None,
                    pattern_message=entry.get("pattern_message"),
                max_length=max_length,
                uppercase=uppercase,
            )
            self.seen[name] = question
            questions.append(question)
        return questions

    def warning_rules(
        self, raw: Any, questions: list[Question], lists: Mapping[str, tuple[Choice, ...]]
    ) -> list[WarningRule]:
        if not isinstance(raw, list):
            self.fail("warnings", "doit être une liste de {message, when}")
            return []
        every = {q.name: q.type for q in questions}
        rules = []
        for n, entry in enumerate(raw, start=1):
            where = f"avertissement n°{n}"
            if not isinstance(entry, dict) or "message" not in entry or "when" not in entry:
                self.fail(where, "il faut un message et une condition (when)")
                continue
            when = self.condition(entry["when"], where, every, lists)
            if when is not None:
                rules.append(WarningRule(str(entry["message"]), when))
        return rules

    def condition(
        self,
        raw: Any,
        where: str,
        defined: Mapping[str, str],
        lists: Mapping[str, tuple[Choice, ...]],
    ) -> Condition | None:
        """Parse a condition; questions it reads must be in ``defined`` (asked before)."""
        if not isinstance(raw, dict) or not raw:
            self.fail(where, f"condition invalide {raw!r} (ex. {{question: situation, "
                             "equals: interviewed}})")
            return None
        for combinator in ("all", "any"):
            if combinator in raw:
                items = raw[combinator]
                if not isinstance(items, list) or not items:
                    self.fail(where, f"{combinator} attend une liste de conditions")
                    return None
                parsed = [self.condition(i, where, defined, lists) for i in items]
                if any(p is None for p in parsed):
                    return None
                return Condition(combinator, items=tuple(parsed))
        if "not" in raw:
            inner = self.condition(raw["not"], where, defined, lists)
            return Condition("not", items=(inner,)) if inner else None
        if "age_mismatch" in raw:
            spec = raw["age_mismatch"]
            if not isinstance(spec, dict) or {"birth_year", "age_band"} - set(spec):
                self.fail(where, "age_mismatch attend {birth_year: QUESTION, age_band: QUESTION}")
                return None
            for key in ("birth_year", "age_band"):
                if spec[key] not in defined:
                    self.fail(where, f"age_mismatch : la question {spec[key]!r} n'existe pas")
                    return None
            return Condition("age_mismatch", question=spec["birth_year"], value=spec["age_band"])
        question = raw.get("question")
        ops = [k for k in raw if k in _COMPARISONS]
        unknown = set(raw) - set(_COMPARISONS) - {"question"}
        if unknown or len(ops) != 1 or not question:
            self.fail(where, f"condition {raw!r} : il faut « question » et un seul opérateur "
                             f"parmi {', '.join(_COMPARISONS)} (ou all, any, not)")
            return None
        if question not in defined:
            self.fail(
                where,
                f"la condition porte sur la question {question!r}, qui n'existe pas "
                "(ou n'est posée qu'après : une condition ne peut lire que les questions "
                "précédentes)",
            )
            return None
        op, value = ops[0], raw[ops[0]]
        qtype = defined[question]
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.fail(where, f"{op} attend une liste de valeurs")
                return None
            value = tuple(value)
        if op in ("min", "max") and (
            qtype not in ("integer", "decimal") or not isinstance(value, int | float)
        ):
            self.fail(where, f"{op} compare un nombre à une question numérique ({question})")
            return None
        if op == "answered" and not isinstance(value, bool):
            self.fail(where, "answered attend true ou false")
            return None
        if qtype in ("select_one", "select_multiple") and op in (
            "equals", "not_equals", "in", "not_in"
        ):
            target = self.seen.get(question)
            allowed = {c.value for c in lists.get(target.choices, ())} if target else set()
            values = value if isinstance(value, tuple) else (value,)
            bad = [v for v in values if str(v) not in allowed]
            if bad:
                self.fail(where, f"valeur(s) {bad} absente(s) des choix de {question!r} "
                                 f"({', '.join(sorted(allowed))})")
                return None
            value = tuple(str(v) for v in value) if isinstance(value, tuple) else str(value)
        return Condition(op, question=question, value=value)


def _age_bounds(band: str) -> tuple[int, int] | None:
    """(lowest, highest) age of an age band such as ``18-24``, ``moins de 18``, ``65 et plus``."""
    numbers = [int(n) for n in re.findall(r"\d+", band)]
    if re.search(r"moins|<", band) and numbers:
        return 0, numbers[0] - 1
    if re.search(r"plus|\+", band) and numbers:
        return numbers[0], 130
    if len(numbers) == 2:
        return numbers[0], numbers[1]
    return None


def _age_mismatch(birth_year: Any, band: Any, reference_year: int) -> bool:
    if birth_year is None or band is None:
        return False
    bounds = _age_bounds(str(band))
    if bounds is None:
        return False
    age = reference_year - int(birth_year)
    # Without the birth date the age is known to a year: tolerate one year either side.
    return not bounds[0] - 1 <= age <= bounds[1] + 1


def default_reference_year() -> int:
    return dt.date.today().year
