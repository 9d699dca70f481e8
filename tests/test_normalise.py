"""Pure cleaning: French dates, names, sex, phones, communes (tables, then invariants)."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.normalise import (
    CommuneReference,
    DatePrecision,
    NormalisationError,
    clean_cell,
    clean_name,
    fold,
    normalise_date,
    normalise_name,
    normalise_phone,
    normalise_sex,
    parse_french_date,
)

TODAY = dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        pytest.param("05/03/1985", dt.date(1985, 3, 5), "jour", id="jj-mm-aaaa"),
        pytest.param("5/3/1985", dt.date(1985, 3, 5), "jour", id="j-m-aaaa"),
        pytest.param("05.03.1985", dt.date(1985, 3, 5), "jour", id="points"),
        pytest.param("05/03/85", dt.date(1985, 3, 5), "jour", id="jj-mm-aa-past"),
        pytest.param("05/03/19", dt.date(2019, 3, 5), "jour", id="jj-mm-aa-recent"),
        pytest.param("1985", dt.date(1985, 1, 1), "annee", id="aaaa"),
        pytest.param("01/01/1985", dt.date(1985, 1, 1), "annee", id="placeholder-0101"),
        pytest.param("00/00/1985", dt.date(1985, 1, 1), "annee", id="placeholder-0000"),
        pytest.param("1985-03-05", dt.date(1985, 3, 5), "jour", id="iso"),
        pytest.param("2025-01-29 08:25:00", dt.date(2025, 1, 29), "jour", id="iso-heure"),
        pytest.param("29/01/2025 08:25", dt.date(2025, 1, 29), "jour", id="jj-mm-aaaa-heure"),
        pytest.param("\xa005/03/1985 ", dt.date(1985, 3, 5), "jour", id="espace-insecable"),
    ],
)
def test_french_dates(text, value, precision):
    parsed = parse_french_date(text, TODAY)
    assert parsed.value == value
    assert parsed.precision == DatePrecision(precision)


@pytest.mark.parametrize(
    "text", ["31/02/2020", "garbage", "12/13/1980", "1/1/1780", "", "32/01/2020", "2020-13-01"]
)
def test_garbage_dates_are_refused_with_the_accepted_formats(text):
    with pytest.raises(NormalisationError, match="Formats acceptés"):
        parse_french_date(text, TODAY)


@pytest.mark.parametrize(
    ("raw", "display", "key", "compact"),
    [
        pytest.param("  DUPONT ", "Dupont", "dupont", "dupont", id="majuscules"),
        pytest.param("jean - noël", "Jean-Noël", "jean noel", "jeannoel", id="trait-union"),
        pytest.param("N’DIAYE", "N'Diaye", "n diaye", "ndiaye", id="apostrophe"),
        pytest.param("BEN SALAH", "Ben Salah", "ben salah", "salah", id="particule"),
        pytest.param("de la Fontaine", "De la Fontaine", "de la fontaine", "fontaine",
                     id="particules"),
        pytest.param("ŒUVRARD", "Œuvrard", "oeuvrard", "oeuvrard", id="ligature"),
    ],
)
def test_names_are_cleaned_keeping_the_original(raw, display, key, compact):
    cleaned = clean_name(raw)
    assert (cleaned.display, cleaned.key, cleaned.compact) == (display, key, compact)
    assert cleaned.original == raw.strip()


def test_a_cell_without_letters_is_no_name():
    assert clean_name(" - ") is None
    assert clean_name("123") is None


@pytest.mark.parametrize(
    ("value", "code"),
    [("H", "M"), ("homme", "M"), ("Masculin", "M"), ("1", "M"), ("F", "F"), ("Femme", "F"),
     ("féminin", "F"), ("2", "F")],
)
def test_sex_codes(value, code):
    assert normalise_sex(value).value == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [("06 12 34 56 78", "+33612345678"), ("+33 6 12 34 56 78", "+33612345678"),
     ("0033612345678", "+33612345678"), ("612345678", "+33612345678"),
     ("+40 721 234 567", "+40721234567")],
)
def test_phones(value, expected):
    assert normalise_phone(value) == expected


@pytest.fixture(scope="module")
def communes() -> CommuneReference:
    return CommuneReference.load()


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("Dijon", "21231", id="nom"),
        pytest.param("DIJON", "21231", id="majuscules"),
        pytest.param("chenove", "21166", id="sans-accent"),
        pytest.param("21000", "21231", id="code-postal"),
        pytest.param("21231", "21231", id="code-insee"),
        pytest.param("Crimolois", "21452", id="commune-deleguee"),
        pytest.param("Neuilly-lès-Dijon", "21452", id="ancien-nom-meme-code"),
        pytest.param("21213", "21452", id="ancien-code"),
        pytest.param("Paris 12e", "75112", id="arrondissement-paris"),
        pytest.param("Lyon 3ème", "69383", id="arrondissement-lyon"),
        pytest.param("13001", "13001", id="code-insee-avant-code-postal"),
        pytest.param("St-Apollinaire", "21540", id="abreviation-saint"),
        pytest.param("1053", "01053", id="zero-perdu"),
    ],
)
def test_communes_to_insee_codes(communes, value, code):
    assert communes.resolve(value, departements=frozenset({"21", "75", "69", "13", "01"})).code \
        == code


def test_postcode_with_several_communes_is_settled_by_the_name(communes):
    assert communes.resolve("Marsannay-la-Côte", "21160").code == "21390"
    with pytest.raises(NormalisationError, match="plusieurs communes"):
        communes.resolve("", "21160")


def test_unknown_commune_suggests_the_closest(communes):
    with pytest.raises(NormalisationError, match="Dijon"):
        communes.resolve("Dijonn")


def test_a_name_shared_by_several_communes_needs_a_departement(communes):
    with pytest.raises(NormalisationError, match="ambiguë"):
        communes.resolve("Saint-Apollinaire")
    assert communes.resolve("Saint-Apollinaire", departements=frozenset({"21"})).code == "21540"


# --- invariants ------------------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "Zs", "Pd", "Po", "Nd")),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(names)
def test_normalising_a_name_twice_changes_nothing(text):
    once = normalise_name(text)
    assert normalise_name(once) == once
    assert fold(fold(text)) == fold(text)
    cleaned = clean_name(text)
    if cleaned is not None:
        again = clean_name(cleaned.display)
        assert (again.key, again.compact) == (cleaned.key, cleaned.compact)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)),
       st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y", "%d/%m/%y"]))
def test_normalising_a_date_twice_changes_nothing(date, pattern):
    text = date.strftime(pattern)
    once = normalise_date(text)
    assert normalise_date(once) == once


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["Dijon", "chenôve", "21000", "Crimolois", "Paris 5e", "Talant"]))
def test_normalising_a_commune_twice_changes_nothing(value):
    reference = CommuneReference.load()
    once = reference.resolve(value).code
    assert reference.resolve(once).code == once


def test_clean_cell_replaces_non_breaking_spaces():
    assert clean_cell("\u202f12\xa0345\t") == "12 345"
