"""Domain types of the observatory: typed codes, enums with French labels, records.

Everything here is pure (pydantic only): the store, the feeds, the linkage and the
dashboards all speak these types.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The organisation that sent a partner file when an import names none: the partner of its
# source that the territory knew before partners were told apart (see `feeds.validate`).
DEFAULT_PARTNER = "territoire"


class ObservatoireError(Exception):
    """Base of every error the toolkit raises on purpose (bad input, bad settings).

    The command line prints these as a message, never as a traceback.
    """


class CodeCommuneError(ObservatoireError, ValueError):
    """A commune code that is not a valid INSEE COG code."""


# A commune code is 5 characters: the département (2 digits, 2A/2B in Corsica,
# 97x overseas) then the commune number. Arrondissements municipaux of Paris (75101-75120),
# Lyon (69381-69389) and Marseille (13201-13216) are codes of their own.
_CODE_COMMUNE = re.compile(r"^(?:\d{2}|2[AB])\d{3}$")
# Code prefixes that only hold arrondissements: (first, last, city, code of the whole city).
# Paris is département 75 on its own; the Bouches-du-Rhône communes stop at 131xx.
_ARRONDISSEMENTS = {
    "75": (75101, 75120, "Paris", "75056"),
    "6938": (69381, 69389, "Lyon", "69123"),
    "132": (13201, 13216, "Marseille", "13055"),
}


def valider_code_commune(value: Any) -> str:
    """Return ``value`` as a normalised INSEE commune code, or raise `CodeCommuneError`.

    Accepts ints and surrounding spaces (``1231`` is read as ``"01231"``, the leading zero
    that spreadsheets drop); lower-case Corsican codes are upper-cased.
    """
    if isinstance(value, bool) or value is None:
        raise CodeCommuneError(f"Code commune manquant ou invalide : {value!r}.")
    if isinstance(value, int):
        text = f"{value:05d}"
    else:
        text = str(value).strip().upper()
    if re.fullmatch(r"\d{4}", text):
        raise CodeCommuneError(
            f"Code commune INSEE invalide : {value!r} (4 chiffres). Le zéro initial a "
            f"probablement été perdu par un tableur : essayez 0{text}, et lisez la colonne "
            "comme du texte."
        )
    if not _CODE_COMMUNE.match(text):
        raise CodeCommuneError(
            f"Code commune INSEE invalide : {value!r}. Un code commune compte 5 caractères "
            "(département sur 2 caractères, 2A/2B pour la Corse, puis 3 chiffres), "
            "par exemple 21231 pour Dijon ou 2A004 pour Ajaccio."
        )
    if text.startswith("20"):
        raise CodeCommuneError(
            f"Code commune INSEE invalide : {value!r}. La Corse utilise 2A ou 2B, pas 20 "
            "(par exemple 2A004 pour Ajaccio)."
        )
    if text.endswith("000"):
        raise CodeCommuneError(
            f"Code commune INSEE invalide : {value!r}. Aucun code commune ne finit par 000 ; "
            "s'agit-il d'un code postal ? Utilisez le code INSEE (Dijon : 21231, pas 21000)."
        )
    for prefix, (low, high, city, whole) in _ARRONDISSEMENTS.items():
        if text.startswith(prefix) and text != whole and not low <= int(text) <= high:
            raise CodeCommuneError(
                f"Code commune INSEE invalide : {value!r}. Les arrondissements de {city} "
                f"vont de {low} à {high} ({city} dans son ensemble : {whole})."
            )
    return text


CodeCommune = Annotated[str, AfterValidator(valider_code_commune)]
"""An INSEE commune (or arrondissement municipal) code, validated and normalised."""


class LabelledEnum(StrEnum):
    """A string enum whose members carry a French label (`label`)."""

    @property
    def label(self) -> str:
        return type(self)._labels()[self.value]

    @classmethod
    def _labels(cls) -> dict[str, str]:  # pragma: no cover - overridden
        return {m.value: m.value for m in cls}

    @classmethod
    def choices(cls) -> dict[str, str]:
        """Value to French label, in declaration order (for select boxes)."""
        return {m.value: m.label for m in cls}


class CampaignStatus(LabelledEnum):
    """Where a count night stands, from planning to publication.

    ``locked`` is the night closed by the coordinator (no entry accepted afterwards); staff
    then validate its figures, and only a published night reaches the public pages.
    """

    PLANNED = "planned"
    OPEN = "open"
    LOCKED = "locked"
    VALIDATED = "validated"
    PUBLISHED = "published"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"planned": "Prévue", "open": "Ouverte", "locked": "Close (verrouillée)",
                "validated": "Validée", "published": "Publiée"}  # fmt: skip

    @property
    def frozen(self) -> bool:
        """Closed, validated or published: no entry, correction or report is accepted."""
        return self in (CampaignStatus.LOCKED, CampaignStatus.VALIDATED,
                        CampaignStatus.PUBLISHED)  # fmt: skip


class TerritoryKind(LabelledEnum):
    EPCI = "epci"
    CUSTOM = "custom"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"epci": "EPCI", "custom": "Ensemble de communes"}


class Role(LabelledEnum):
    VOLUNTEER = "volunteer"
    STAFF = "staff"
    ADMIN = "admin"
    PUBLIC = "public"
    MONITORING = "monitoring"  # the State services and partners of the steering committee

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {
            "volunteer": "Bénévole",
            "staff": "Équipe de l'observatoire",
            "admin": "Administrateur",
            "public": "Public / élus",
            "monitoring": "Instance de suivi (État, comité de pilotage)",
        }


class ContactSituation(LabelledEnum):
    """What happened when a team met someone on the count night."""

    INTERVIEWED = "interviewed"
    REFUSED = "refused"
    ASLEEP = "asleep"
    NOT_APPROACHABLE = "not_approachable"
    ALREADY_ANSWERED = "already_answered"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {
            "interviewed": "Questionnaire rempli",
            "refused": "Observée seulement : a refusé",
            "asleep": "Observée seulement : endormie",
            "not_approachable": "Observée seulement : pas abordable",
            "already_answered": "A déjà répondu cette nuit",
        }


class Sex(LabelledEnum):
    FEMALE = "F"
    MALE = "M"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"F": "Femme", "M": "Homme"}


class PriorSituation(LabelledEnum):
    """Where a person lived before a SI-SIAO request (the optional column « Situation
    avant » of the shipped format, `feeds/formats/si_siao.yaml`): the exits to housing from
    the street and from shelter read it (`observatoire.indicators.publics`)."""

    RUE = "rue"
    HEBERGEMENT_URGENCE = "hebergement_urgence"
    HEBERGEMENT_INSERTION = "hebergement_insertion"
    HOTEL = "hotel"
    INSTITUTION = "institution"
    AUTRE = "autre"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"rue": "Rue", "hebergement_urgence": "Hébergement d'urgence",
                "hebergement_insertion": "Hébergement d'insertion", "hotel": "Hôtel",
                "institution": "Institution", "autre": "Autre"}  # fmt: skip

    @property
    def in_shelter(self) -> bool:
        """Sheltered before the request: emergency or insertion shelter, or a hotel."""
        return self in (PriorSituation.HEBERGEMENT_URGENCE,
                        PriorSituation.HEBERGEMENT_INSERTION, PriorSituation.HOTEL)


class SourceKind(LabelledEnum):
    """Where a record comes from: the count night or a partner feed."""

    COUNT_NIGHT = "nuit"
    SI_SIAO = "si_siao"
    APPELS_115 = "appels_115"
    MARAUDE = "maraude"
    ACCUEIL_JOUR = "accueil_jour"
    LISTE = "liste"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {
            "nuit": "Nuit de la Solidarité",
            "si_siao": "Extraction SI-SIAO",
            "appels_115": "Appels au 115",
            "maraude": "Maraude",
            "accueil_jour": "Accueil de jour",
            "liste": "Liste de personnes",
        }


class ReviewDecision(LabelledEnum):
    """A reviewer's answer on a pair of records (clerical review), as stored; a person's
    split is stored as ``non_match`` answers."""

    MATCH = "match"
    NON_MATCH = "non_match"
    UNSURE = "unsure"

    @classmethod
    def _labels(cls) -> dict[str, str]:
        return {"match": "Même personne", "non_match": "Pas la même personne",
                "unsure": "Incertain"}  # fmt: skip


class Commune(BaseModel):
    """A commune (or arrondissement municipal) of a territory, in a given COG year."""

    model_config = ConfigDict(frozen=True)

    code: CodeCommune
    name: str
    population: int = Field(ge=0)
    cog_year: int = Field(ge=1943, le=2100)
    geometry_wkb: bytes | None = None


class Territory(BaseModel):
    """An EPCI or a custom set of communes followed by one observatory."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    kind: TerritoryKind
    epci_code: str | None = Field(default=None, pattern=r"^\d{9}$")
    cog_year: int
    communes: list[Commune] = Field(default_factory=list)

    @property
    def population(self) -> int:
        return sum(c.population for c in self.communes)


class User(BaseModel):
    login: str = Field(min_length=2, max_length=64)
    display_name: str
    role: Role
