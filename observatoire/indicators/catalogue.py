"""The declarative indicator catalogue (``catalogue.yaml``): what each indicator means.

    catalogue = load_catalogue()
    catalogue["a_minima_total"].label  # "Personnes sans abri décomptées (a minima)"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from observatoire.model import ObservatoireError

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
UNITS = {"personnes", "pour_10000", "part", "secteurs", "ménages", "places", "actions"}
DIRECTIONS = {"down", "up", "none"}
PRIORITIES = {
    1: "Produire et mobiliser des logements abordables",
    2: "Accélérer l'accès au logement",
    3: "Mieux accompagner les personnes et les maintenir dans le logement",
    4: "Prévenir les ruptures et recentrer l'hébergement d'urgence",
    5: "Mobiliser les acteurs et les territoires",
}
GROUPS = {
    "nuit": "Nuit de la Solidarité",
    "profil": "Profil des personnes rencontrées",
    "qualite": "Qualité et couverture",
    "liaison": "Estimation dédoublonnée",
    "flux": "Flux (liste nominative)",
    "logement_d_abord": "Indicateurs Logement d'abord",
}


class UnknownIndicatorError(ObservatoireError, KeyError):
    """An indicator id that the catalogue does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry (see the header of ``catalogue.yaml`` for each field)."""

    id: str
    group: str
    label: str
    definition: str
    unit: str
    source: str
    formula: str
    good: str
    priority: int
    publishable: bool
    short_label: str = ""
    """Optional: a few words that fit a dashboard tile (the full label goes in its help)."""

    @property
    def tile_label(self) -> str:
        return self.short_label or self.label

    @property
    def priority_label(self) -> str:
        return PRIORITIES[self.priority]

    def is_progress(self, change: float) -> bool | None:
        """Whether ``change`` (new minus old) goes the good way; ``None`` when undirected."""
        if self.good == "none" or change == 0:
            return None
        return (change < 0) == (self.good == "down")


class Catalogue(dict[str, Indicator]):
    """Indicator id -> `Indicator`, in file order; unknown ids raise and list the valid ones."""

    def __missing__(self, key: str) -> Indicator:
        raise UnknownIndicatorError(
            f"Indicateur inconnu : {key!r}. Indicateurs du catalogue : {', '.join(self)}."
        )

    def in_group(self, group: str) -> list[Indicator]:
        return [i for i in self.values() if i.group == group]


def parse_catalogue(entries: list[dict]) -> Catalogue:
    """Validate raw catalogue entries; raises `ObservatoireError` naming the faulty entry."""
    catalogue = Catalogue()
    fields = set(Indicator.__dataclass_fields__)
    optional = {"short_label"}
    for number, entry in enumerate(entries, start=1):
        name = entry.get("id", f"n°{number}")
        missing = sorted(fields - optional - set(entry))
        extra = sorted(set(entry) - fields)
        if missing or extra:
            raise ObservatoireError(
                f"Entrée {name} du catalogue d'indicateurs : champs manquants {missing}, "
                f"champs inconnus {extra}. Champs attendus : {', '.join(sorted(fields))}."
            )
        checks = (
            ("unit", UNITS),
            ("good", DIRECTIONS),
            ("priority", set(PRIORITIES)),
            ("group", set(GROUPS)),
        )
        for field, allowed in checks:
            if entry[field] not in allowed:
                raise ObservatoireError(
                    f"Entrée {name} du catalogue : {field} = {entry[field]!r} ; valeurs "
                    f"possibles : {', '.join(map(str, sorted(allowed, key=str)))}."
                )
        if name in catalogue:
            raise ObservatoireError(f"Indicateur {name} défini deux fois dans le catalogue.")
        catalogue[name] = Indicator(**{k: entry[k] for k in fields if k in entry})
    return catalogue


@cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """The catalogue shipped with the package (or another YAML file of the same shape)."""
    with open(path, encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle))
