"""Cell-key perturbation with the ONS package: same people, same noise in every table."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("cell_key_perturbation")

from observatoire.publish.perturbation import (  # noqa: E402
    PerturbationSettings,
    make_ptable,
    method_note,
    perturbed_counts,
    record_keys,
)

SECRET = b"cle de test, fictive"
SETTINGS = PerturbationSettings()


@pytest.fixture(scope="module")
def ptable():
    return make_ptable(SETTINGS)


def _records(n_people: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [(commune, kind, f"{commune}-{kind}-{i}") for (commune, kind), n in n_people.items()
            for i in range(n)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["commune", "lieu", "id"])
    frame["record_key"] = record_keys(frame["id"], SECRET)
    return frame


def test_the_ptable_is_zero_mean_bounded_and_never_negative(ptable):
    assert set(ptable["pvalue"]) <= set(range(-2, 3))
    big = ptable[ptable["pcv"] > 10]
    assert abs(big.groupby("pcv")["pvalue"].mean()).max() < 0.05
    assert (ptable["pcv"] + ptable["pvalue"] >= 0).all()


def test_the_same_people_get_the_same_noise_in_every_table(ptable):
    records = _records({("Dijon", "rue"): 244, ("Dijon", "gares"): 76, ("Chenôve", "rue"): 17,
                        ("Chenôve", "gares"): 4})  # fmt: skip
    by_commune = perturbed_counts(records, ["commune"], ptable).set_index("commune")
    # Another table, another order of rows: the Chenôve cell holds the same people.
    shuffled = records.sample(frac=1, random_state=3)
    again = perturbed_counts(shuffled, ["commune"], ptable).set_index("commune")
    assert by_commune.loc["Chenôve", "count"] == again.loc["Chenôve", "count"]
    assert by_commune.loc["Chenôve", "ckey"] == records.loc[
        records["commune"] == "Chenôve", "record_key"].sum() % 256
    assert abs(int(by_commune.loc["Dijon", "count"]) - 320) <= SETTINGS.max_noise


def test_differencing_two_tables_gives_noise_not_the_hidden_count(ptable):
    """The issue's Chenôve case: street 17, a minima 21, 4 in partner places. Perturbed, the
    difference is 4 plus the difference of two noises; over many fictitious communes it is
    often not the true count."""
    wrong = 0
    for c in range(200):
        records = _records({(f"C{c}", "rue"): 17, (f"C{c}", "gares"): 4})
        street = perturbed_counts(records[records["lieu"] == "rue"], ["commune"], ptable)
        a_minima = perturbed_counts(records, ["commune"], ptable)
        wrong += int(a_minima["count"].iloc[0]) - int(street["count"].iloc[0]) != 4
    assert wrong > 100


def test_small_cells_stay_secret_and_the_method_is_described(ptable):
    records = _records({("Talant", "rue"): 3, ("Dijon", "rue"): 50})
    table = perturbed_counts(records, ["commune"], ptable).set_index("commune")
    assert pd.isna(table.loc["Talant", "count"])
    note = method_note(SETTINGS)
    assert "clé de cellule" in note and "-2 à +2" in note and "11 personnes" in note
    assert np.all((record_keys(["a", "b"], SECRET) >= 0) & (record_keys(["a"], SECRET) < 256))
