"""CodeCommune: the INSEE codes the observatory accepts, and the messages for the others."""

import pytest
from pydantic import BaseModel, ValidationError

from observatoire.model import CodeCommune, CodeCommuneError, valider_code_commune

GOOD = [
    ("dijon", "21231", "21231"),
    ("ain-leading-zero", "01053", "01053"),
    ("int-loses-zero", 1053, "01053"),
    ("spaces", " 21231 ", "21231"),
    ("corse-du-sud", "2A004", "2A004"),
    ("haute-corse-lowercase", "2b033", "2B033"),
    ("paris-whole", "75056", "75056"),
    ("paris-1er", "75101", "75101"),
    ("paris-20e", "75120", "75120"),
    ("lyon-1er", "69381", "69381"),
    ("lyon-9e", "69389", "69389"),
    ("lyon-whole", "69123", "69123"),
    ("marseille-1er", "13201", "13201"),
    ("marseille-16e", "13216", "13216"),
    ("marseille-whole", "13055", "13055"),
    ("aix", "13001", "13001"),
    ("reunion", "97411", "97411"),
]

BAD = [
    ("postcode", "21000", "code postal"),
    ("four-digits", "1053", "zéro initial"),
    ("six-digits", "210310", "5 caractères"),
    ("letters", "ABCDE", "5 caractères"),
    ("empty", "", "5 caractères"),
    ("none", None, "manquant"),
    ("bool", True, "manquant"),
    ("corse-20", "20004", "2A ou 2B"),
    ("corse-2c", "2C004", "5 caractères"),
    ("paris-21e", "75121", "Paris"),
    ("paris-postcode-like", "75001", "Paris"),
    ("lyon-10e", "69380", "Lyon"),
    ("marseille-17e", "13217", "Marseille"),
    ("marseille-200", "13200", "Marseille"),
    ("inner-space", "21 231", "5 caractères"),
]


@pytest.mark.parametrize(("value", "expected"), [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_codes_are_accepted_and_normalised(value, expected):
    assert valider_code_commune(value) == expected


@pytest.mark.parametrize(("value", "hint"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_codes_are_rejected_with_a_message_that_names_the_fix(value, hint):
    with pytest.raises(CodeCommuneError) as error:
        valider_code_commune(value)
    assert hint in str(error.value)
    assert repr(value) in str(error.value)


def test_code_commune_works_as_a_pydantic_field():
    class Row(BaseModel):
        commune: CodeCommune

    assert Row(commune="2a004").commune == "2A004"
    with pytest.raises(ValidationError, match="code postal"):
        Row(commune="21000")
