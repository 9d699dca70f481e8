"""Record linkage: interchange format, keys, engine, decisions, pseudonymised mode, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.cli import main
from observatoire.linkage.engine import LinkageSettings, link
from observatoire.linkage.evaluate import score
from observatoire.linkage.records import RecordsFormatError, validate_records
from observatoire.names import clean_letters, phonetic_fr, skeleton

KEY = b"k" * 32


def skel(name: str) -> str:
    return skeleton(phonetic_fr(clean_letters(name)))


@pytest.mark.parametrize(
    "a, b",
    [
        ("Mohamed", "Muhammad"),
        ("Mouhamed", "Mohammad"),
        ("Youssef", "Yusuf"),
        ("Ousmane", "Usman"),
        ("Abdel-Kader", "Abdelkader"),
        ("Hélène", "HELENE"),
        ("Iaremtchouk", "Yaremchuk"),
        ("Dupont", "Dupond"),
    ],
    ids=lambda v: v,
)
def test_spelling_variants_share_a_skeleton(a: str, b: str) -> None:
    assert skel(a) == skel(b)


def record(record_id: str, source: str = "si_siao", **values: str) -> dict[str, str]:
    return {"record_id": record_id, "source": source, **values}


def frame(*rows: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(rows)).fillna("").astype(str)


def test_missing_record_id_column_is_refused() -> None:
    with pytest.raises(RecordsFormatError, match="record_id"):
        validate_records(pd.DataFrame({"source": ["a"], "first_name": ["Jean"]}))


def test_duplicate_ids_are_refused_with_their_lines() -> None:
    with pytest.raises(RecordsFormatError, match=r"double.*ligne 2.*ligne 3"):
        validate_records(frame(record("r1"), record("r1")))


def test_unparseable_dates_name_their_line() -> None:
    bad = frame(record("r1", birth_date="1980-02-03"), record("r2", birth_date="31/12/1980"))
    with pytest.raises(RecordsFormatError, match=r"birth_date.*ligne 3 \('31/12/1980'\)"):
        validate_records(bad)


def _people() -> pd.DataFrame:
    """Six synthetic people written the ways partners write them, plus decoys."""
    rows = []
    variants = [
        ("Mohamed", "Benali", "1985-03-07"),
        ("Mouhamed", "Ben Ali", "1985-03-07"),
        ("Benali", "Muhammad", "1985-01-01"),  # swapped, placeholder date
        ("Mohamed", "BENALI", "1985-07-03"),  # day/month swap
    ]
    for n, (first, last, birth) in enumerate(variants):
        rows.append(record(f"a{n}", first_name=first, last_name=last, birth_date=birth, sex="M",
                           commune_code="21231"))
    others = [
        ("Hélène", "Dupont", "1970-05-12", "F"), ("Helene", "Dupond", "1970-05-12", "F"),
        ("Ioana", "Stoica", "1992-11-30", "F"), ("Ioana", "Stoïca", "1992-11-30", "F"),
        ("Mamadou", "Diallo", "1990-01-15", "M"), ("Mamadu", "Diallo", "1990-01-15", "M"),
        ("Mamadou", "Traoré", "1975-06-20", "M"), ("Mamadou", "Traore", "1975-06-20", "M"),
        ("Giorgi", "Beridze", "1981-09-09", "M"), ("Gueorgui", "Beridze", "1981-09-09", "M"),
        ("Jean", "Martin", "1960-04-04", "M"), ("Jean", "Martin", "1960-04-04", "M"),
        ("Pierre", "Moreau", "1958-08-08", "M"), ("Paul", "Girard", "1999-02-02", "M"),
        ("Luc", "Petit", "1966-12-12", "M"), ("Anne", "Roux", "1977-07-07", "F"),
    ]
    for n, (first, last, birth, sex) in enumerate(others):
        rows.append(record(f"b{n}", source="accueil_jour" if n % 2 else "si_siao",
                           first_name=first, last_name=last, birth_date=birth, sex=sex,
                           commune_code="21231"))
    return frame(*rows)


def _truth(records: pd.DataFrame) -> list[str]:
    ids = records["record_id"].tolist()
    return ["A" if r.startswith("a") else f"B{int(r[1:]) // 2 if int(r[1:]) < 12 else r}"
            for r in ids]


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return validate_records(_people())


def test_variants_of_one_person_are_one_person(people: pd.DataFrame) -> None:
    result = link(people)
    persons = result.clusters.set_index("record_id")["person_id"]
    assert persons[["a0", "a1", "a2", "a3"]].nunique() == 1
    assert persons["b0"] == persons["b1"]
    assert persons["b12"] != persons["b13"]
    assert score(result.clusters["person_id"], _truth(people)).f1 == 1.0
    assert result.clusters["record_id"].tolist() == people["record_id"].tolist()


def test_pseudonymised_input_gives_the_same_persons(people: pd.DataFrame) -> None:
    clear = link(people).clusters["person_id"]
    encoded = link(people, key=KEY).clusters["person_id"]
    assert score(encoded, clear).f1 == 1.0


def test_decisions_override_the_model_on_the_next_run(people: pd.DataFrame) -> None:
    decisions = pd.DataFrame({
        "record_id_a": ["a0", "b12"], "record_id_b": ["a3", "b13"],
        "decision": ["non_match", "match"],
    })
    persons = link(people, decisions=decisions).clusters.set_index("record_id")["person_id"]
    assert persons["a0"] != persons["a3"]
    assert persons["b12"] == persons["b13"]


def test_link_command_writes_one_row_per_record(tmp_path, capsys, monkeypatch) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from observatoire.store.db import make_engine
    from observatoire.store.tables import AuditLogRow

    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    source = tmp_path / "records.csv"
    _people().to_csv(source, index=False)
    output = tmp_path / "clusters.csv"
    assert main(["link", str(source), "--output", str(output), "--actor", "camille.test"]) == 0
    clusters = pd.read_csv(output, dtype=str)
    assert list(clusters.columns[:2]) == ["record_id", "person_id"]
    assert sorted(clusters["record_id"]) == sorted(_people()["record_id"])
    assert "distinctes sur la période" in capsys.readouterr().err  # the one wording
    # The file written is an export of individual records: audited with who wrote it.
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'observatoire.sqlite'}")
    with Session(engine) as session:
        audit = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "export.link"))
        entries = [(a.actor, a.details["output"], a.details["records"]) for a in audit]
    engine.dispose()
    assert entries == [("camille.test", str(output), len(_people()))]


def test_link_command_rejects_a_bad_file_with_a_message(tmp_path, capsys) -> None:
    source = tmp_path / "records.csv"
    source.write_text("source,first_name\nsi_siao,Jean\n", encoding="utf-8")
    assert main(["link", str(source), "--output", str(tmp_path / "o.csv")]) == 2
    assert "record_id" in capsys.readouterr().err


def test_link_command_reads_parquet_as_it_reads_csv(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    # Typed columns (dates, numbers) as a Parquet export holds them, not only strings.
    typed = validate_records(_people())
    typed.to_parquet(tmp_path / "records.parquet")
    _people().to_csv(tmp_path / "records.csv", index=False)
    for name in ("records.csv", "records.parquet"):
        assert main(["link", str(tmp_path / name), "--output", str(tmp_path / f"{name}.out"),
                     "--actor", "camille.test"]) == 0
    csv, parquet = (tmp_path / "records.csv.out", tmp_path / "records.parquet.out")
    assert pd.read_csv(csv, dtype=str)["record_id"].nunique() == len(_people())
    assert csv.read_text() == parquet.read_text()


def test_an_unreadable_parquet_file_is_refused_with_a_message(tmp_path, capsys) -> None:
    source = tmp_path / "records.parquet"
    source.write_text("record_id,source\na1,si_siao\n", encoding="utf-8")  # a CSV, renamed
    assert main(["link", str(source), "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "Parquet illisible" in err and str(source) in err and "Traceback" not in err


def test_scores_of_a_perfect_and_a_merged_clustering() -> None:
    assert score([1, 1, 2], ["x", "x", "y"]).f1 == 1.0
    merged = score([1, 1, 1], ["x", "x", "y"])
    assert merged.precision == pytest.approx(1 / 3) and merged.recall == 1.0


@pytest.mark.slow
def test_synthetic_sample_is_linked_well() -> None:
    from observatoire.linkage.sample import build_sample_records

    records = build_sample_records(n_people=400, seed=7)
    result = link(validate_records(records), LinkageSettings())
    assert score(result.clusters["person_id"], records["person_id"]).bcubed_f1 > 0.6


# --- encodings as the database stores them, and chains of links ------------------------------


def _stored_levels(records: pd.DataFrame, a: int, b: int) -> dict[str, int]:
    import numpy as np

    from observatoire.linkage.compare import COMPARISONS, compare
    from observatoire.linkage.stored import features_as_stored

    features = features_as_stored(validate_records(records), KEY)
    levels = compare(features, np.array([a]), np.array([b]))[0]
    return {c.name: int(level) for c, level in zip(COMPARISONS, levels, strict=True)}


def test_stored_encodings_see_a_day_month_swap_and_a_transliteration() -> None:
    records = frame(
        record("r1", first_name="Mohamed", last_name="Benali", birth_date="1985-03-07",
               sex="M"),
        record("r2", first_name="Muhammad", last_name="Benali", birth_date="1985-07-03",
               sex="M"),
        record("r3", first_name="Mohamed", last_name="Benali", birth_date="1985-08-07",
               sex="M"),
    )
    swapped = _stored_levels(records, 0, 1)
    assert swapped["birth"] == 4  # "jour et mois inversés", as on clear text
    assert swapped["first_name"] >= 1  # same consonant skeleton ("md")
    assert _stored_levels(records, 0, 2)["birth"] == 3  # another day: same year only


def _first_name_levels(a: str, b: str, key: bytes) -> tuple[int, int, int]:
    """First-name level of two first-name-only records: clear, pseudonymised, stored."""
    from observatoire.linkage.compare import compare
    from observatoire.linkage.encoded import encode
    from observatoire.linkage.prepare import prepare
    from observatoire.linkage.stored import features_as_stored

    valid = validate_records(frame(record("a", "maraude", first_name=a),
                                   record("b", "maraude", first_name=b)))
    clear = prepare(valid)
    pair = np.array([0]), np.array([1])
    return tuple(int(compare(f, *pair)[0][0]) for f in (
        clear, encode(clear, key), features_as_stored(valid, key)))


SWAP_KEYS = [KEY, b"another-key-for-the-swap-test-0123456789"]


@pytest.mark.parametrize("key", SWAP_KEYS)
@pytest.mark.parametrize(("a", "b"), [("Rene", "Rnee"), ("Pavel", "Pavle"), ("Karim", "Kraim")])
def test_two_swapped_letters_are_very_close_on_encodings_as_on_clear_names(a, b, key):
    assert _first_name_levels(a, b, key) == (2, 2, 2)


@pytest.mark.parametrize("key", SWAP_KEYS)
@pytest.mark.parametrize(("a", "b"), [("Leon", "Noel"), ("Amine", "Imane"),
                                      ("Laurent", "Renault")])
def test_anagrams_that_are_other_names_are_not_made_very_close(a, b, key):
    assert max(_first_name_levels(a, b, key)) < 2


def test_records_encoded_without_sorted_letters_are_judged_on_the_rest() -> None:
    """Version-2 records (no ``*_lettres``): an empty token meets nothing, not even another
    empty one, so the filters alone decide."""
    from observatoire.linkage.compare import compare
    from observatoire.linkage.prepare import prepare
    from observatoire.linkage.stored import _features
    from observatoire.normalise import clean_name as clean_partner_name
    from observatoire.pseudonymise import Pseudonymiser

    pseudonymiser = Pseudonymiser(KEY)
    stored = [pseudonymiser.record(first_name=clean_partner_name(n)) for n in ("Rene", "Rnee")]
    old = [{k: v for k, v in p.items() if k != "prenom_lettres"} for p in stored]
    valid = validate_records(frame(record("a", "maraude"), record("b", "maraude")))
    levels = {}
    for name, pseudonyms in (("v3", stored), ("v2", old)):
        features = _features(prepare(valid), pseudonyms, np.array(["", ""], dtype=object))
        levels[name] = int(compare(features, np.array([0]), np.array([1]))[0][0])
    assert levels == {"v3": 2, "v2": 1}


def test_stored_features_use_the_phonetic_token_for_version_1_records() -> None:
    from observatoire.linkage.stored import pseudonym_tokens

    tokens = pseudonym_tokens([{"prenom_phon": "p1"}, {"prenom_phon": "p2",
                                                       "prenom_squelette": "s2"}])
    assert tokens["first_skel"].tolist() == ["p1", "s2"]
    assert tokens["birth_date_swapped"].tolist() == ["", ""]


def test_a_chain_of_links_never_puts_two_sexes_in_one_person() -> None:
    import numpy as np

    from observatoire.linkage.cluster import cluster

    # A (man) - B (sex unknown) - C (woman): both links strong, A-C never compared.
    sex = np.array([1, -1, 0])
    i, j, p = np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.9])
    anchor = np.ones(3, dtype=bool)
    chained = cluster(3, i, j, p, anchor=anchor)
    assert len(set(chained)) == 1  # without the rule, one person
    labels = cluster(3, i, j, p, anchor=anchor,
                     differ=lambda a, b: (sex[a] >= 0) & (sex[b] >= 0) & (sex[a] != sex[b]))
    assert labels[0] != labels[2] and labels[0] == labels[1]  # B stays with its best link


def test_the_engine_keeps_apart_a_chain_of_two_sexes() -> None:
    # Same first and last name and year; the middle record has no sex.
    records = validate_records(frame(
        record("m", first_name="Moussa", last_name="Diallo", birth_year="1990", sex="M"),
        record("x", source="appels_115", first_name="Moussa", last_name="Diallo",
               birth_year="1990"),
        record("f", first_name="Moussa", last_name="Diallo", birth_year="1990", sex="F"),
        *(record(f"o{n}", first_name=first, last_name=last, birth_year=str(1950 + n),
                 sex="MF"[n % 2])
          for n, (first, last) in enumerate([("Jean", "Martin"), ("Anne", "Roux"),
                                             ("Paul", "Girard"), ("Ioana", "Stoica")] * 4)),
    ))
    persons = link(records).clusters.set_index("record_id")["person_id"]
    assert persons["m"] != persons["f"]


def test_a_strong_link_makes_a_unit_less_likely_to_be_somebody_new() -> None:
    import numpy as np

    from observatoire.linkage.estimate import estimate_people

    # Records 0-3 are persons with a full name, each alone; 4 and 5 are lone sightings.
    # Person 1 is strongly linked to person 0 (kept apart by the clustering), sighting 4
    # strongly to person 2; person 3 and sighting 5 resemble nobody.
    labels = np.arange(6)
    anchor = np.array([True, True, True, True, False, False])
    i, j = np.array([0, 2]), np.array([1, 4])
    p = np.array([0.99, 0.99])
    e = estimate_people(labels, i, j, p, anchor=anchor)
    assert e.expected[1] < e.expected[3] and e.expected[0] < e.expected[3]
    assert e.expected[4] < e.expected[5]
    assert 0 < e.expected.min() and e.expected.max() <= 1
    assert e.people == round(e.expected.sum())
    # The pairs to review: the strong links, each with the variance of its decision.
    variance = e.sources.pair_variance(len(i))
    assert (variance > 0).all()


def test_a_name_is_checked_when_a_candidate_with_a_full_name_carries_it() -> None:
    from observatoire.linkage.blocking import candidate_pairs
    from observatoire.linkage.compare import compare
    from observatoire.linkage.engine import _name_checked
    from observatoire.linkage.prepare import prepare

    records = validate_records(frame(
        record("full", first_name="Mamadou", last_name="Diallo", birth_year="1990", sex="M",
               commune_code="21231"),
        record("first", source="maraude", first_name="Mamadu", age="35", sex="M",
               commune_code="21231", observed_at="2025-06-01T22:00:00+02:00"),
        record("nick", source="maraude", first_name="Le Chef", age="35", sex="M",
               commune_code="21231", observed_at="2025-06-01T22:00:00+02:00"),
        record("seen", source="nuit", initials="MD", birth_year="1990", sex="M",
               commune_code="21231"),
    ))
    features = prepare(records)
    i, j, _ = candidate_pairs(features)
    checked = _name_checked(features, i, j, compare(features, i, j))
    assert checked.tolist()[1:] == [1, 0, -1]


def test_a_block_too_big_is_split_by_birth_year_not_dropped() -> None:
    from observatoire.linkage.blocking import candidate_pairs
    from observatoire.linkage.prepare import prepare

    # 40 namesakes born 1950..1989, then one more record of the 1970 one.
    rows = [record(f"r{k}", first_name="Mohamed", last_name="Diallo",
                   birth_date=f"{1950 + k}-03-0{1 + k % 9}") for k in range(40)]
    rows.append(record("twin", "appels_115", first_name="Mohamed", last_name="Diallo",
                       birth_date="1970-03-03"))
    features = prepare(validate_records(pd.DataFrame(rows)))
    i, j, report = candidate_pairs(features, max_block=10)
    pairs = set(zip(features.record_id[i], features.record_id[j], strict=True))
    assert ("r20", "twin") in pairs
    # The full-name block (41 records) is paired within birth years instead of skipped...
    assert report.per_rule["names_any_order"] > 0
    assert report.skipped_blocks == 0
    # ...and not whole: namesakes 39 years apart are no candidates.
    assert ("r0", "r39") not in pairs
    whole, _, _ = candidate_pairs(features, max_block=1000)
    assert report.pairs < len(whole)


# --- fast paths of the clustering at scale: same answers as the plain numpy calls --------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**20), max_size=300), st.integers(0, 40))
def test_stable_order_is_a_stable_argsort(values, high_bits):
    from observatoire.linkage.sorted_runs import stable_order

    key = np.asarray(values, dtype=np.int64) << high_bits  # large keys take the fallback
    assert np.array_equal(stable_order(key), np.argsort(key, kind="stable"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0, 2)), max_size=200))
def test_maximum_into_matches_ufunc_at(pairs):
    from observatoire.linkage.sorted_runs import maximum_into

    index = np.asarray([p[0] for p in pairs], dtype=np.int64)
    values = np.asarray([p[1] for p in pairs], dtype=float)
    expected, got, chunked = np.full(31, 0.5), np.full(31, 0.5), np.full(31, 0.5)
    np.maximum.at(expected, index, values)
    maximum_into(got, index, values)
    maximum_into(chunked, index, values, chunk=7)
    assert np.array_equal(expected, got)
    assert np.array_equal(expected, chunked)


def _greedy_reference(n, ei, ej, ep, ni, nj):
    """The per-group merge as first written: groups and forbidden sets, merged greedily."""
    parent, group = list(range(n)), {r: {r} for r in range(n)}
    forbidden = {r: set() for r in range(n)}
    for a, b in zip(ni, nj, strict=True):
        forbidden[a].add(b)
        forbidden[b].add(a)

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for k in np.argsort(-ep, kind="stable"):
        ra, rb = find(int(ei[k])), find(int(ej[k]))
        if ra == rb or forbidden[ra] & group[rb]:
            continue
        if len(group[ra]) < len(group[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        group[ra] |= group.pop(rb)
        forbidden[ra] |= forbidden.pop(rb)
    return np.array([find(r) for r in range(n)])


@pytest.mark.parametrize("seed", range(8))
def test_greedy_merge_matches_the_reference(seed):
    from observatoire.linkage.cluster import _greedy_merge

    rng = np.random.default_rng(seed)
    n = 40
    ei, ej = rng.integers(0, n, 120), rng.integers(0, n, 120)
    keep = ei != ej
    ei, ej = ei[keep], ej[keep]
    ep = rng.choice([0.6, 0.7, 0.9, 0.99], len(ei))  # ties: the order must be stable
    ni, nj = rng.integers(0, n, 15), rng.integers(0, n, 15)
    got = _greedy_merge(n, ei, ej, ep, ni, nj)
    assert np.array_equal(got, _greedy_reference(n, ei, ej, ep, ni, nj))
