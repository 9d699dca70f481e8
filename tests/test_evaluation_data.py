"""The evaluation's data that staff keep: the territory's own indicators, conventions as
stored versions with their spreadsheet exchange, figures that come from no feed, the
monitoring body's access and the data-sharing register."""

from __future__ import annotations

import pytest

from observatoire.indicators.catalogue import (
    COMPUTATIONS,
    DASHBOARD,
    HAND_ENTERED,
    load_catalogue,
)
from observatoire.model import ObservatoireError

OWN_INDICATOR = """\
- id: halte_soins_places
  label: Places de lits halte soins santé
  unit: places
  frequency: quarterly
  owner: ARS
  publishable: true
- id: duree_sejour_urgence
  label: Durée moyenne de séjour en hébergement d'urgence
  unit: mois
  good: down
"""


@pytest.fixture
def own_catalogue(tmp_path, monkeypatch):
    folder = tmp_path / "indicateurs"
    folder.mkdir()
    (folder / "territoire.yaml").write_text(OWN_INDICATOR, encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_INDICATORS_DIR", str(folder))
    return folder


def test_every_computation_of_the_catalogue_is_one_pure_function():
    from observatoire.indicators.yearly import YEARLY

    assert set(YEARLY) == set(COMPUTATIONS) - {HAND_ENTERED, DASHBOARD}
    used = {i.computation for i in load_catalogue().values()}
    assert set(YEARLY) <= used


def test_a_territory_yaml_adds_indicators_without_touching_the_package(own_catalogue):
    catalogue = load_catalogue()
    own = catalogue["halte_soins_places"]
    assert (own.unit, own.frequency, own.owner, own.publishable) == ("places", "quarterly",
                                                                     "ARS", True)
    assert own.hand_entered and own.group == "territoire"
    assert catalogue["duree_sejour_urgence"].unit == "mois"
    assert catalogue.own == {"halte_soins_places", "duree_sejour_urgence"}
    assert "a_minima_total" in catalogue and "a_minima_total" not in catalogue.own


@pytest.mark.parametrize(
    ("text", "message"),
    [("- {id: a_minima_total, label: x, unit: personnes}", "défini deux fois"),
     ("- {id: x, label: x, unit: kg}", "unit = 'kg'"),
     ("- {id: x, label: x}", "champs manquants \\['unit'\\]"),
     ("- {id: x, label: x, unit: mois, computation: count_night_total}", "computation"),
     ("- {id: x, label: [x", "ligne 1")],
    ids=["redefines-shipped", "unknown-unit", "no-unit", "own-computation", "bad-yaml"],
)
def test_a_bad_territory_entry_is_refused_naming_file_and_fix(own_catalogue, text, message):
    (own_catalogue / "z.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ObservatoireError, match=message) as error:
        load_catalogue()
    assert "z.yaml" in str(error.value)
