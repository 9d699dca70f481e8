"""Questionnaire definitions: the standard form loads, bad definitions are refused clearly,
responses are validated with errors (blocking) and warnings (kept)."""

from __future__ import annotations

import textwrap

import pytest

from observatoire.survey import (
    QuestionnaireError,
    list_questionnaires,
    load_questionnaire,
    parse_questionnaire,
    validate_response,
)
from observatoire.synthetic.generator import AGE_BANDS, HOMELESS_DURATIONS, STREET_PLACES

MINIMAL = """
version: test-1
title: Test
choice_lists:
  yn: [{value: oui, label: Oui}, {value: non, label: Non}]
questions:
  - {name: a, type: select_one, choices: yn, label: A, required: true}
  - {name: b, type: integer, label: B, min: 0, max: 5, relevant: {question: a, equals: oui}}
"""


def test_standard_questionnaire_loads_and_covers_the_themes():
    q = load_questionnaire("ndls-2026")
    assert "ndls-2026" in list_questionnaires()
    names = [question.name for question in q.questions]
    for theme in ("situation", "sex", "age_band", "birth_year", "household", "children_count",
                  "with_animals", "sleeping_place", "homeless_duration", "calls_115",
                  "calls_115_outcome", "shelter_use", "resources", "health_cover",
                  "social_worker", "initials", "comment"):
        assert theme in names


def test_standard_choices_match_the_generator_values():
    q = load_questionnaire("ndls-2026")
    assert {c.value for c in q.choices("age_band")} == set(AGE_BANDS)
    assert {c.value for c in q.choices("sleeping_place")} == set(STREET_PLACES)
    assert {c.value for c in q.choices("homeless_duration")} == set(HOMELESS_DURATIONS)
    assert {c.value for c in q.choices("calls_115")} == {"jamais", "parfois", "souvent"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("version: [unclosed", "YAML illisible (ligne 1", id="malformed-yaml"),
        pytest.param("- just\n- a list", "doit décrire un questionnaire", id="not-a-mapping"),
        pytest.param("", "document vide", id="empty-file"),
        pytest.param(MINIMAL.replace("choices: yn", "choices: yesno"),
                     "question 'a' : liste de choix 'yesno' inconnue", id="unknown-list"),
        pytest.param(MINIMAL.replace("question: a", "question: zz"),
                     "question 'b', relevant : la condition porte sur la question 'zz', qui "
                     "n'existe pas", id="skip-logic-missing-question"),
        pytest.param(MINIMAL.replace("name: b", "name: a"), "question 'a' : nom en double",
                     id="duplicated-name"),
        pytest.param(MINIMAL.replace("equals: oui", "equals: peut-etre"),
                     "valeur(s) ['peut-etre'] absente(s) des choix de 'a'", id="bad-value"),
        pytest.param(MINIMAL.replace("min: 0", "min: 9"), "min (9) est supérieur à max (5)",
                     id="min-above-max"),
        pytest.param(MINIMAL.replace("label: B,", "lable: B,"), "clé 'lable' inconnue",
                     id="typo-in-key"),
        pytest.param(MINIMAL.replace("name: b", "name: team_code"), "nom réservé",
                     id="reserved-name"),
        pytest.param(MINIMAL.replace("version: test-1", "version: test-2"),
                     "ne correspond pas au nom du fichier", id="version-not-file-name"),
    ],
)
def test_bad_definitions_name_the_file_and_the_question(tmp_path, text, expected):
    path = tmp_path / "test-1.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(QuestionnaireError) as info:
        load_questionnaire(path)
    assert expected in str(info.value)
    assert str(path.resolve()) in str(info.value)


def test_every_fault_is_listed_not_only_the_first():
    text = MINIMAL.replace("choices: yn", "choices: nope").replace("question: a", "question: z")
    with pytest.raises(QuestionnaireError, match="2 problèmes"):
        parse_questionnaire(text, source="x.yaml")


def test_skip_logic_may_only_look_back():
    text = MINIMAL.replace(
        "required: true}", "required: true, relevant: {question: b, answered: true}}"
    )
    with pytest.raises(QuestionnaireError, match="posée qu'après"):
        parse_questionnaire(text)


def test_unknown_version_lists_the_available_ones():
    with pytest.raises(QuestionnaireError, match="Versions disponibles : .*ndls-2026"):
        load_questionnaire("ndls-1999")


@pytest.fixture(scope="module")
def ndls():
    return load_questionnaire("ndls-2026")


INTERVIEW = {
    "situation": "interviewed", "sex": "F", "age_band": "35-44", "sleeping_place": "rue",
    "with_animals": False, "birth_year": 1988, "household": "alone", "children_count": 0,
    "homeless_duration": "1_5_ans", "calls_115": "parfois",
    "calls_115_outcome": "pas_de_place pas_de_reponse", "initials": "JD",
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "question", "fragment"),
    [
        pytest.param({"situation": None}, "situation", "réponse obligatoire", id="required"),
        pytest.param({"age_band": None}, "age_band", "réponse obligatoire",
                     id="required-when-interviewed"),
        pytest.param({"sex": "X"}, "sex", "hors des choix", id="unknown-choice"),
        pytest.param({"children_count": "deux"}, "children_count", "nombre entier attendu",
                     id="not-an-integer"),
        pytest.param({"children_count": 40}, "children_count", "supérieur au maximum",
                     id="above-max"),
        pytest.param({"initials": "J1"}, "initials", "deux lettres", id="pattern"),
        pytest.param({"calls_115": "jamais"}, "calls_115_outcome", "ne s'applique pas",
                     id="answer-to-skipped-question"),
        pytest.param({"favourite_colour": "bleu"}, "favourite_colour", "question inconnue",
                     id="unknown-question"),
        pytest.param({"with_animals": "peut-être"}, "with_animals", "oui ou non attendu",
                     id="bad-boolean"),
    ],
)
def test_response_errors_block(ndls, changes, question, fragment):
    check = validate_response(ndls, INTERVIEW | changes, reference_year=2026)
    assert not check.ok
    assert any(e.question == question and fragment in e.message for e in check.errors), (
        check.errors
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"age_band": None}, "« Âge (déclaré, ou apparent si la personne n'a pas "
                     "répondu) » : réponse obligatoire", id="required"),
        pytest.param({"initials": "J1"}, "« Initiales (prénom puis nom), seulement avec "
                     "l'accord de la personne » : « J1 » ne convient pas : deux lettres, par "
                     "exemple « JD »", id="pattern"),
        pytest.param({"calls_115": "jamais"}, "« Lors de vos derniers appels au 115, qu'avez-"
                     "vous obtenu ? » : réponse donnée alors que la question ne s'applique pas "
                     "(condition d'affichage non remplie)", id="skipped"),
    ],
)
def test_errors_read_with_the_question_label_not_its_name(ndls, changes, expected):
    """What the volunteer reads: the question as printed on the form, never ``age_band``."""
    check = validate_response(ndls, INTERVIEW | changes, reference_year=2026)
    assert [str(e) for e in check.errors] == [expected]


def test_a_skipped_question_names_the_condition_by_its_labels(ndls):
    check = validate_response(ndls, {"situation": "asleep", "household": "alone"})
    assert [str(e) for e in check.errors] == [
        "« Avec qui êtes-vous ce soir ? » : réponse donnée alors que la question ne s'applique "
        "pas (seulement si « Situation de la rencontre » = « Questionnaire rempli »)"]


@pytest.mark.parametrize(("typed", "read"), [("jd", "JD"), ("é d", "ED"), ("j.d.", "JD"),
                                             ("Jd", "JD")])
def test_initials_are_read_upper_case_without_accents(ndls, typed, read):
    check = validate_response(ndls, INTERVIEW | {"initials": typed}, reference_year=2026)
    assert check.ok, check.errors
    assert check.values["initials"] == read


def test_uppercase_applies_to_text_questions_only():
    source = """
version: t
title: T
choice_lists: {}
questions:
  - {name: age, type: integer, label: Âge, uppercase: true}
"""
    with pytest.raises(QuestionnaireError, match="uppercase"):
        parse_questionnaire(source)


def test_a_clean_interview_passes_with_typed_values(ndls):
    check = validate_response(ndls, INTERVIEW | {"birth_year": "1988"}, reference_year=2026)
    assert check.ok and check.warnings == []
    assert check.values["birth_year"] == 1988
    assert check.values["calls_115_outcome"] == ["pas_de_place", "pas_de_reponse"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        pytest.param({"age_band": "18-24", "birth_year": 2004, "household": "with_children",
                      "children_count": 3}, "18-24 ans avec 3 enfants", id="young-many-children"),
        pytest.param({"birth_year": 1950}, "incompatible avec la tranche", id="age-mismatch"),
        pytest.param({"household": "with_children", "children_count": 0}, "aucun enfant",
                     id="family-without-children"),
    ],
)
def test_warnings_are_kept_not_blocking(ndls, changes, fragment):
    check = validate_response(ndls, INTERVIEW | changes, reference_year=2026)
    assert check.ok
    assert any(fragment in w.message for w in check.warnings), check.warnings


def test_a_person_only_observed_needs_only_the_situation(ndls):
    check = validate_response(ndls, {"situation": "asleep"})
    assert check.ok and check.values == {"situation": "asleep"}
