"""Keyed pseudonyms: never the name, never without the key, and similar for name variants."""

import base64
import hashlib
import itertools
import statistics

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from observatoire.normalise import clean_name, fold, parse_french_date
from observatoire.pseudonymise import (
    BLOOM_BITS,
    Pseudonymiser,
    SecretKeyError,
    dice,
    keyed_hash,
    name_similarity,
    name_skeleton,
    parse_key,
    phonetic_code,
    pseudonymise_name,
)
from observatoire.synthetic.names import VARIANT_FAMILIES

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

letters = st.text(alphabet=st.characters(categories=("L",), codec="utf-8"), min_size=2,
                  max_size=20)


def _reversible_forms(text: str) -> set[str]:
    """What an attacker would try: the text, reversed, its bytes in hex and base64."""
    forms = set()
    for variant in {text, text.lower(), text.upper(), fold(text), fold(text).replace(" ", "")}:
        if len(variant) < 2:
            continue
        raw = variant.encode("utf-8")
        forms |= {variant, variant[::-1], raw.hex(), base64.b64encode(raw).decode().rstrip("=")}
    return {f for f in forms if len(f) >= 2}


@settings(max_examples=200, deadline=None)
@given(letters)
def test_a_pseudonym_never_contains_the_name_nor_a_reversible_form(name):
    encoded = pseudonymise_name(KEY, name)
    assume(encoded)
    text = " ".join(encoded.values())
    for form in _reversible_forms(name):
        if len(form) >= 4:
            assert form not in text
    # A plain (unkeyed) hash, the dictionary attacker's first guess, is not what is stored.
    plain = hashlib.sha256(fold(name).encode()).hexdigest()
    assert plain[:32] not in text
    # The consonant skeleton is stored keyed too: neither it nor its plain hash appears.
    skeleton = name_skeleton(fold(name))
    assert encoded["nom_squelette"] != skeleton
    assert hashlib.sha256(skeleton.encode()).hexdigest()[:32] not in text
    if len(skeleton) >= 4:
        assert skeleton not in text
    # Without the key, nothing matches: another key gives other pseudonyms.
    other = pseudonymise_name(OTHER_KEY, name)
    assert other["nom"] != encoded["nom"] and other["nom_bf"] != encoded["nom_bf"]
    assert other["nom_squelette"] != encoded["nom_squelette"]


def _person(key: bytes, last: str, first: str, birth: str) -> dict[str, str]:
    return Pseudonymiser(key).record(
        last_name=clean_name(last), first_name=clean_name(first),
        birth_date=parse_french_date(birth), sex="M",
    )


def _record_similarity(a: dict[str, str], b: dict[str, str]) -> float:
    birth = 1.0 if a.get("naissance") == b.get("naissance") else 0.0
    return (name_similarity(a, b, "nom") + name_similarity(a, b, "prenom") + birth) / 3


family_pairs = st.sampled_from(VARIANT_FAMILIES).flatmap(
    lambda family: st.tuples(st.sampled_from(family), st.sampled_from(family))
)
birth_dates = st.dates(min_value=__import__("datetime").date(1940, 1, 1),
                       max_value=__import__("datetime").date(2005, 12, 31))


@settings(max_examples=200, deadline=None)
@given(family_pairs, st.sampled_from([f[0] for f in VARIANT_FAMILIES]), birth_dates,
       st.sampled_from(VARIANT_FAMILIES), st.sampled_from(VARIANT_FAMILIES), birth_dates)
def test_two_spellings_of_one_person_are_closer_than_two_people(
    first_names, last, birth, other_first_family, other_last_family, other_birth
):
    spelling_a, spelling_b = first_names
    assume(other_birth != birth)
    assume(spelling_a not in other_first_family and last not in other_last_family)
    other_first, other_last = other_first_family[0], other_last_family[-1]
    assume(fold(other_last) != fold(last))
    same_a = _person(KEY, last, spelling_a, birth.strftime("%d/%m/%Y"))
    same_b = _person(KEY, last, spelling_b, birth.strftime("%d/%m/%Y"))
    other = _person(KEY, other_last, other_first, other_birth.strftime("%d/%m/%Y"))
    assert _record_similarity(same_a, same_b) > _record_similarity(same_a, other)


def test_spellings_of_a_family_are_closer_than_names_of_other_families():
    pseudonymiser = Pseudonymiser(KEY)
    encoded = {n: pseudonymiser.name(clean_name(n), "nom") for f in VARIANT_FAMILIES for n in f}
    within = [name_similarity(encoded[a], encoded[b])
              for f in VARIANT_FAMILIES for a, b in itertools.combinations(f, 2)]
    between = [name_similarity(encoded[f[0]], encoded[g[0]])
               for f, g in itertools.combinations(VARIANT_FAMILIES, 2)]
    assert statistics.mean(within) > 0.6 > 0.3 > statistics.mean(between)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Mouhamed", "Muhamed"), ("Youssef", "Youcef"), ("Tchaghalidze", "Chaghalidze"),
     ("Djamel", "Jamel"), ("Khadija", "Kadija"), ("Philippe", "Filipe"), ("Rachide", "Rachid")],
)
def test_french_phonetic_code_merges_transliteration_variants(a, b):
    assert phonetic_code(fold(a)) == phonetic_code(fold(b))


def test_bloom_filters_have_the_declared_length_and_dice_is_one_for_equal_names():
    encoded = pseudonymise_name(KEY, "Traoré")
    assert len(base64.b64decode(encoded["nom_bf"])) * 8 == BLOOM_BITS
    assert dice(encoded["nom_bf"], pseudonymise_name(KEY, "TRAORE")["nom_bf"]) == 1.0


def test_exact_birth_date_only_when_day_and_month_are_known():
    full = _person(KEY, "Dupont", "Jean", "12/05/1980")
    year_only = _person(KEY, "Dupont", "Jean", "01/01/1980")
    assert full["naissance_precision"] == "jour" and "naissance" in full
    assert year_only["naissance_precision"] == "annee" and "naissance" not in year_only
    assert full["cle_ndls"] == year_only["cle_ndls"]  # initials + birth year + sex


def test_keyed_hash_matches_the_pseudonymiser_and_the_repr_hides_the_key():
    pseudonymiser = Pseudonymiser(KEY)
    assert pseudonymiser.hash("nom", "dupont") == keyed_hash(KEY, "nom", "dupont")
    assert KEY.hex() not in repr(pseudonymiser)


@settings(max_examples=200)
@given(purpose=st.text(max_size=12), value=st.text(max_size=40))
def test_a_hasher_of_one_purpose_gives_the_keyed_hash(purpose, value):
    """`Pseudonymiser.hasher` (a hash per row, the purpose fed once) is `keyed_hash`, called
    again and again from the same state."""
    keyed = Pseudonymiser(KEY).hasher(purpose)
    assert keyed(value) == keyed_hash(KEY, purpose, value)
    assert keyed(value + "x") == keyed_hash(KEY, purpose, value + "x")
    assert keyed(value) == keyed_hash(KEY, purpose, value)


@pytest.mark.parametrize("text", ["", "trop courte", "ab" * 10])
def test_short_keys_are_refused_with_how_to_create_one(text):
    with pytest.raises(SecretKeyError, match="observatoire key generate"):
        parse_key(text)


def test_hex_keys_and_passphrases():
    assert parse_key("00" * 32) == bytes(32)
    assert parse_key("une phrase de passe suffisamment longue !") == (
        b"une phrase de passe suffisamment longue !"
    )


@pytest.mark.parametrize(
    "variants",
    [("Mohamed", "Mouhamed", "Muhammad", "Mohammad", "MOHAMMED"), ("Giorgi", "Gueorgui"),
     ("Youssef", "Youcef", "Yusuf")],
)
def test_transliteration_variants_share_the_skeleton_token(variants):
    tokens = {pseudonymise_name(KEY, v)["nom_squelette"] for v in variants}
    assert len(tokens) == 1
    # First and last names share the purpose (a first name in the last-name column meets).
    first = Pseudonymiser(KEY).name(clean_name(variants[0]), "prenom")["prenom_squelette"]
    assert tokens == {first}
    assert pseudonymise_name(KEY, "Martin")["nom_squelette"] not in tokens


def test_two_swapped_letters_share_the_sorted_letters_token():
    tokens = {pseudonymise_name(KEY, v)["nom_lettres"] for v in ("René", "RNEE", "rené")}
    assert len(tokens) == 1
    # First and last names share the purpose, as for the other name tokens.
    first = Pseudonymiser(KEY).name(clean_name("Rene"), "prenom")["prenom_lettres"]
    assert tokens == {first}
    assert pseudonymise_name(KEY, "Renée")["nom_lettres"] not in tokens
    # Keyed: the sorted letters never appear, and another key gives another token.
    assert "eenr" not in tokens.pop()
    assert pseudonymise_name(b"k" * 32, "Rene")["nom_lettres"] != first


def test_a_day_month_swapped_date_meets_the_date_token_of_the_other():
    written = _person(KEY, "Dupont", "Jean", "03/11/1980")
    swapped = _person(KEY, "Dupont", "Jean", "11/03/1980")
    assert written["naissance"] != swapped["naissance"]
    assert written["naissance_inversee"] == swapped["naissance"]
    assert swapped["naissance_inversee"] == written["naissance"]


@pytest.mark.parametrize("birth", ["25/11/1980", "05/05/1980"])
def test_a_date_that_cannot_be_swapped_still_has_a_token_that_meets_no_date(birth):
    """Day over 12 or day = month: a token all the same (its presence says nothing about the
    day), under another purpose, so it equals no date token, not even its own date's."""
    record = _person(KEY, "Dupont", "Jean", birth)
    day, month, year = birth.split("/")
    assert record["naissance_inversee"] not in {
        record["naissance"], keyed_hash(KEY, "naissance", f"{year}-{day}-{month}")}
    assert len(record["naissance_inversee"]) == len(record["naissance"])
    assert "naissance_inversee" not in _person(KEY, "Dupont", "Jean", "01/01/1980")
