"""Stress populations for the linkage engine: five partner sources in the interchange format.

Designed apart from `observatoire.synthetic.generator` (whose population the engine was
tuned on), from the description of an outside territory's files (issue 12):

- about half the people carry a first name from a few dozen transliteration families
  (Mohamed/Mohammed/Muhammad, Mamadou/Mamadu...) and a last name from a few dozen families
  frequent in French street counts (Diallo, Traoré, Coulibaly...): namesakes are frequent;
  the others carry ordinary French names (Faker ``fr_FR``);
- couples and relatives share a last name, a commune and often the same services, with
  different first names and close ages: hard negatives;
- ``si_siao`` mostly has a full name and birth date; ``appels_115`` a name and a full birth
  date about half the time, an age otherwise; ``maraude`` (outreach) a first name or a
  nickname, an age within 5 years and a position, all sightings of a person in one
  fortnight; ``accueil_jour`` (day centre) a name and often a birth year; ``nuit`` (the count
  night) initials and a birth year when interviewed, a guessed decade otherwise;
- records per person have a heavy tail (frequent 115 callers), some people appear in one
  source only;
- each source has its own rates of typos, transliteration variants, first/last name swaps,
  day/month swaps, 01/01 placeholders, one mistyped digit and a year off by one.

    sample = generate_stress(stress_scenario("namesakes", people=2000, seed=100))
    write_stress(sample, "stress/")  # records.csv (interchange format) and verite.csv

Everything random comes from one seeded ``numpy`` Generator (Faker is seeded from it): the
same scenario gives the same files.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire.linkage.records import RECORD_COLUMNS
from observatoire.model import ObservatoireError, SourceKind

NUIT = SourceKind.COUNT_NIGHT.value
SI_SIAO = SourceKind.SI_SIAO.value
APPELS_115 = SourceKind.APPELS_115.value
MARAUDE = SourceKind.MARAUDE.value
ACCUEIL_JOUR = SourceKind.ACCUEIL_JOUR.value
STRESS_SOURCES = (SI_SIAO, APPELS_115, MARAUDE, ACCUEIL_JOUR, NUIT)

# First-name transliteration families: (spellings, sex, short forms used as nicknames).
# The first spelling is the most frequent; families are listed from the most common.
FIRST_NAME_FAMILIES: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    (("Mohamed", "Mohammed", "Muhammad", "Mohamad", "Mohammad", "Mouhamed"), "M", ("Momo", "Moha")),
    (("Mamadou", "Mamadu", "Mamado"), "M", ("Mams", "Madou")),
    (("Ousmane", "Usman", "Osman", "Othmane"), "M", ("Ous",)),
    (("Ibrahim", "Ibrahima", "Brahim", "Ebrahim"), "M", ("Ibra",)),
    (("Abdoulaye", "Abdallah", "Abdullah", "Abdoulah"), "M", ("Abdou", "Laye")),
    (("Amadou", "Ahmadou", "Amado"), "M", ("Ama",)),
    (("Moussa", "Musa", "Mousa"), "M", ("Mouss",)),
    (("Ahmed", "Ahmad", "Ahmet"), "M", ("Hamid",)),
    (("Youssef", "Yusuf", "Youssouf", "Yousef"), "M", ("Youss",)),
    (("Fatoumata", "Fatimata", "Fatouma", "Fatima"), "F", ("Fatou", "Fati")),
    (("Souleymane", "Suleiman", "Sulayman", "Soulemane"), "M", ("Souley",)),
    (("Boubacar", "Boubakar", "Aboubacar", "Abubakar"), "M", ("Bouba",)),
    (("Ali", "Aly", "Alee"), "M", ()),
    (("Omar", "Oumar", "Umar"), "M", ()),
    (("Aminata", "Aminatou", "Amina"), "F", ("Mina",)),
    (("Idrissa", "Idris", "Driss"), "M", ("Idi",)),
    (("Mustapha", "Mustafa", "Moustapha"), "M", ("Mous",)),
    (("Ion", "Ioan", "Ioane"), "M", ()),
    (("Mariam", "Maryam", "Mariama", "Myriam"), "F", ("Mimi",)),
    (("Abdelkader", "Abdulkadir", "Abdelkadir"), "M", ("Kader",)),
    (("Seydou", "Saidou", "Seidou"), "M", ("Sey",)),
    (("Hussein", "Hossein", "Husain", "Houssein"), "M", ()),
    (("Karim", "Kareem", "Abdelkarim"), "M", ()),
    (("Aïcha", "Aicha", "Aisha", "Aïssa"), "F", ()),
    (("Rachid", "Rashid", "Rached"), "M", ()),
    (("Gheorghe", "Georghe", "Gheorge"), "M", ("Gica",)),
    (("Adama", "Adam", "Addama"), "M", ()),
    (("Khadija", "Khadidja", "Kadidia", "Kadiatou"), "F", ("Kadi",)),
    (("Lamine", "Alamine", "Al-Amine"), "M", ()),
    (("Hamza", "Hamsa", "Hamzah"), "M", ()),
    (("Bilal", "Belal", "Billal"), "M", ()),
    (("Vasile", "Vasili", "Vassile"), "M", ("Vasi",)),
    (("Hawa", "Awa", "Hawwa"), "F", ()),
    (("Reza", "Rezza", "Riza"), "M", ()),
    (("Samba", "Sambah"), "M", ()),
    (("Elena", "Ilena", "Helena"), "F", ()),
)

# Last-name families frequent in French street counts, most common first.
LAST_NAME_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("Diallo", "Dialo", "Jallow"),
    ("Traoré", "Traore", "Trawre"),
    ("Coulibaly", "Kulibali", "Koulibaly", "Coulibali"),
    ("Ouedraogo", "Ouédraogo", "Wedraogo"),
    ("Camara", "Kamara"),
    ("Keita", "Keïta", "Kéita"),
    ("Sow", "Sowe"),
    ("Bah", "Ba", "Baah"),
    ("Cissé", "Cisse", "Sissé"),
    ("Touré", "Toure", "Ture"),
    ("Konaté", "Konate", "Konatée"),
    ("Barry", "Bari", "Barri"),
    ("Popescu", "Popesco", "Popescou"),
    ("Ahmadi", "Ahmady", "Ahmedi"),
    ("Diop", "Diope", "Dhiop"),
    ("Ndiaye", "N'Diaye", "Ndiay"),
    ("Sylla", "Sila", "Silla"),
    ("Fofana", "Fofanah"),
    ("Koné", "Kone", "Konée"),
    ("Doumbia", "Dumbia", "Doumbya"),
    ("Mohammadi", "Mohamadi", "Muhammadi"),
    ("Hosseini", "Husseini", "Hosseyni"),
    ("Sangaré", "Sangare", "Sangaret"),
    ("Ionescu", "Ionesco", "Ionescou"),
    ("Benali", "Ben Ali", "Ben-Ali"),
    ("Haidari", "Haydari", "Heydari"),
    ("Kaba", "Kabba"),
    ("Mansouri", "Mansoury", "Mansuri"),
    ("Dumitru", "Dimitru", "Dumitriu"),
    ("Sanogo", "Sanogho"),
    ("Rahimi", "Rahimy", "Rahimie"),
    ("Belkacem", "Belkasem", "Belkacim"),
    ("Dembélé", "Dembele", "Dembelé"),
    ("Soumaré", "Soumare", "Sumare"),
)

GENERIC_NICKNAMES = (
    "Le Grand", "Tonton", "Papi", "Rasta", "Blanco", "Le Vieux", "Chef", "Petit", "Coco",
    "Jojo", "Lulu", "Dédé", "Titi", "Le Marin", "Gigi", "Nono", "Kiki", "Mama", "Tata",
    "Le Belge", "Barbu", "Pirate", "Bouboule", "Zizou", "Le Prof",
)

# Fictitious territory: the communes of a metropole with a rough centre each (lat, lon).
COMMUNES: tuple[tuple[str, float, float], ...] = (
    ("69381", 45.7676, 4.8344), ("69382", 45.7485, 4.8270), ("69383", 45.7597, 4.8530),
    ("69384", 45.7786, 4.8270), ("69385", 45.7560, 4.8020), ("69386", 45.7690, 4.8500),
    ("69387", 45.7330, 4.8390), ("69388", 45.7350, 4.8690), ("69389", 45.7740, 4.8050),
    ("69266", 45.7719, 4.8902), ("69259", 45.6975, 4.8858), ("69029", 45.7388, 4.9139),
    ("69123", 45.7640, 4.8357), ("69290", 45.7580, 4.9520),
)
# Where sleepers concentrate: people's communes are drawn with these weights.
COMMUNE_WEIGHTS = (6, 5, 5, 2, 2, 3, 4, 2, 2, 3, 2, 1, 1, 1)

YEAR_START = np.datetime64("2026-01-01T00:00", "s")
COUNT_NIGHT_START = np.datetime64("2026-01-29T21:00", "s")  # 22:00 Paris time, in UTC
REFERENCE_DAY = np.datetime64("2026-07-01", "D")
DAY = np.timedelta64(86400, "s")


@dataclass(frozen=True)
class SourceProfile:
    """How often a source holds a person, how many records, and its error rates per record."""

    presence: float  # share of the people with at least one record in the source
    extra_records: float  # mean number of records beyond the first (Poisson)
    typo: float = 0.0  # one typed letter wrong, missing, doubled or swapped in a name
    variant: float = 0.0  # another spelling of the name's transliteration family
    swap_names: float = 0.0  # first and last name swapped
    swap_day_month: float = 0.0  # birth date with day and month swapped
    placeholder: float = 0.0  # birth date replaced by 01/01 of its year
    digit: float = 0.0  # one digit of the birth date (or year) typed wrong
    year_shift: float = 0.0  # birth year (or age) off by one


def _default_sources() -> dict[str, SourceProfile]:
    return {
        SI_SIAO: SourceProfile(0.55, 0.08, typo=0.04, variant=0.08, swap_names=0.03,
                               swap_day_month=0.02, placeholder=0.04, digit=0.02,
                               year_shift=0.01),
        APPELS_115: SourceProfile(0.45, 0.7, typo=0.10, variant=0.20, swap_names=0.04,
                                  swap_day_month=0.03, placeholder=0.03, digit=0.03,
                                  year_shift=0.04),
        MARAUDE: SourceProfile(0.30, 0.6, typo=0.08, variant=0.15),
        ACCUEIL_JOUR: SourceProfile(0.30, 0.7, typo=0.06, variant=0.12, swap_names=0.03,
                                    digit=0.02, year_shift=0.05),
        NUIT: SourceProfile(0.25, 0.03, typo=0.02, swap_names=0.03, digit=0.02,
                            year_shift=0.05),
    }


@dataclass(frozen=True)
class StressScenario:
    """Parameters of a stress population; `stress_scenario` gives the named ones."""

    name: str = "namesakes"
    people: int = 2000
    seed: int = 0
    first_name_families: int = 30  # how many of `FIRST_NAME_FAMILIES` are in use
    last_name_families: int = 30  # how many of `LAST_NAME_FAMILIES` are in use
    share_frequent_names: float = 0.5  # people named from the families (the rest: French)
    share_115_full_birth_date: float = 0.5  # 115 records with a full birth date (else an age)
    share_siao_full_birth_date: float = 0.92  # SI-SIAO records with a birth date
    share_day_centre_birth_year: float = 0.7  # day-centre records with a birth year
    share_night_interviewed: float = 0.4  # count-night sightings with a birth year
    # People the outreach teams know by a nickname (a sighting names them the other way
    # 15% of the time).
    outreach_nickname_rate: float = 0.35
    frequent_callers: float = 0.04  # share of the 115's people calling 8 to 13 times
    household_share: float = 0.15  # people living in a couple or family (shared last name)
    max_household: int = 4
    max_records: int = 15  # records of one person at most
    error_scale: float = 1.0  # multiplies every error rate of every source
    sources: Mapping[str, SourceProfile] = field(default_factory=_default_sources)

    def __post_init__(self) -> None:
        problems = []
        if self.people < 1:
            problems.append(f"people = {self.people} (au moins 1)")
        if not 1 <= self.first_name_families <= len(FIRST_NAME_FAMILIES):
            problems.append(f"first_name_families = {self.first_name_families} "
                            f"(de 1 à {len(FIRST_NAME_FAMILIES)})")
        if not 1 <= self.last_name_families <= len(LAST_NAME_FAMILIES):
            problems.append(f"last_name_families = {self.last_name_families} "
                            f"(de 1 à {len(LAST_NAME_FAMILIES)})")
        for name in ("share_frequent_names", "share_115_full_birth_date",
                     "share_siao_full_birth_date", "share_day_centre_birth_year",
                     "share_night_interviewed", "outreach_nickname_rate", "frequent_callers",
                     "household_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} = {value} (une part entre 0 et 1)")
        unknown = sorted(set(self.sources) - set(STRESS_SOURCES))
        if unknown:
            problems.append(f"sources inconnues : {', '.join(unknown)} "
                            f"(attendu : {', '.join(STRESS_SOURCES)})")
        if problems:
            raise ObservatoireError("Scénario de test invalide : " + " ; ".join(problems) + ".")


def _sources_scaled(**changes: dict[str, float]) -> dict[str, SourceProfile]:
    sources = _default_sources()
    for source, fields in changes.items():
        sources[source] = replace(sources[source], **fields)
    return sources


SCENARIOS: dict[str, StressScenario] = {
    # The population: half the people with frequent names, half the 115 with a date.
    "namesakes": StressScenario(name="namesakes"),
    # Few birth dates, many outreach contacts known by a nickname.
    "sparse": StressScenario(
        name="sparse", share_115_full_birth_date=0.2, share_siao_full_birth_date=0.6,
        share_day_centre_birth_year=0.35, share_night_interviewed=0.2,
        outreach_nickname_rate=0.55,
        sources=_sources_scaled(maraude={"presence": 0.55, "extra_records": 1.2}),
    ),
    # Same population shape, a fifth of the errors.
    "clean": StressScenario(name="clean", error_scale=0.2),
    # Many couples and families sharing a last name, with close ages.
    "large_families": StressScenario(name="large_families", household_share=0.4,
                                     max_household=6),
    # Mostly ordinary French names (few namesakes of the frequent families).
    "french_names": StressScenario(name="french_names", share_frequent_names=0.08),
    # Few families, most people named from them: namesakes even more frequent.
    "dense_namesakes": StressScenario(name="dense_namesakes", first_name_families=12,
                                      last_name_families=12, share_frequent_names=0.7),
}
# Settings may be chosen on these families (with seeds 0-4); the others are kept for reporting.
TUNING_SCENARIOS = ("namesakes", "sparse", "clean")
REPORT_ONLY_SCENARIOS = ("large_families", "french_names", "dense_namesakes")


def stress_scenario(name: str, people: int | None = None, seed: int | None = None,
                    **changes: object) -> StressScenario:
    """The named scenario, with its size, seed or any other field replaced."""
    if name not in SCENARIOS:
        raise ObservatoireError(
            f"Scénario inconnu : {name!r}. Scénarios disponibles : {', '.join(SCENARIOS)}."
        )
    if people is not None:
        changes["people"] = people
    if seed is not None:
        changes["seed"] = seed
    return replace(SCENARIOS[name], **changes)


@dataclass(frozen=True)
class StressSample:
    """A generated population: the records file, its truth and the true people."""

    scenario: StressScenario
    records: pd.DataFrame  # `RECORD_COLUMNS`, every cell a string ("" when empty)
    truth: pd.DataFrame  # record_id, person_id
    people: pd.DataFrame  # person_id, first_name, last_name, sex, birth_date, household_id


# ---------------------------------------------------------------------------------------------
# String errors


_KEYBOARD = {  # AZERTY neighbours, for typed letters
    "a": "zqs", "z": "aes", "e": "zrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "om", "q": "asw", "s": "qdz", "d": "sfe", "f": "dgr",
    "g": "fht", "h": "gjy", "j": "hku", "k": "jli", "l": "kmo", "m": "lp", "w": "xq",
    "x": "wcs", "c": "xvd", "v": "cbf", "b": "vng", "n": "bhj",
}


def _typo(text: str, rng: np.random.Generator) -> str:
    """One typing error: a neighbouring key, a missing, doubled or swapped letter."""
    if len(text) < 2:
        return text
    k = int(rng.integers(len(text)))
    kind = int(rng.integers(4))
    char = text[k]
    if kind == 0 and char.lower() in _KEYBOARD:
        keys = _KEYBOARD[char.lower()]
        new = keys[int(rng.integers(len(keys)))]
        return text[:k] + (new.upper() if char.isupper() else new) + text[k + 1:]
    if kind == 1 and len(text) > 3:
        return text[:k] + text[k + 1:]
    if kind == 2:
        return text[:k] + char + text[k:]
    k = min(k, len(text) - 2)
    return text[:k] + text[k + 1] + text[k] + text[k + 2:]


@functools.lru_cache(maxsize=65536)
def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _digit_typo(date: np.datetime64, rng: np.random.Generator) -> np.datetime64:
    """The same date with one of its digits typed wrong (a valid date, else unchanged)."""
    text = str(date)  # YYYY-MM-DD
    positions = [2, 3, 5, 6, 8, 9]  # not the century
    for _ in range(6):
        k = positions[int(rng.integers(len(positions)))]
        digit = str(int(rng.integers(10)))
        if digit == text[k]:
            continue
        candidate = text[:k] + digit + text[k + 1:]
        try:
            value = np.datetime64(candidate, "D")
        except ValueError:
            continue
        if np.datetime64("1920-01-01") <= value <= np.datetime64("2025-12-31"):
            return value
    return date


def _date_error(date: np.datetime64, swap_dm: bool, placeholder: bool, digit: bool,
                sign: int, rng: np.random.Generator) -> np.datetime64:
    year, month, day = (int(x) for x in str(date).split("-"))
    if swap_dm:
        if day > 12 or day == month:
            return date  # no valid swapped date: the record keeps its date
        return np.datetime64(f"{year:04d}-{day:02d}-{month:02d}", "D")
    if placeholder:
        return np.datetime64(f"{year:04d}-01-01", "D")
    if digit:
        return _digit_typo(date, rng)
    day = min(day, 28) if month == 2 else day  # 29 February a year off
    return np.datetime64(f"{year + sign:04d}-{month:02d}-{day:02d}", "D")


# ---------------------------------------------------------------------------------------------
# People


def _zipf(n: int, exponent: float = 0.8) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _french_pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    from faker import Faker

    fake = Faker("fr_FR")
    fake.seed_instance(int(rng.integers(2**31)))
    # Drawing a pool keeps Faker's own frequencies; numpy then picks from it.
    return {
        "M": np.array([fake.first_name_male() for _ in range(3000)], dtype=object),
        "F": np.array([fake.first_name_female() for _ in range(3000)], dtype=object),
        "last": np.array([fake.last_name() for _ in range(6000)], dtype=object),
    }


def _people(s: StressScenario, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = s.people
    sex = np.where(rng.random(n) < 0.2, "F", "M").astype(object)
    age = np.clip(rng.normal(41, 12, n), 18, 80)
    household = np.full(n, -1)
    role = np.zeros(n, dtype=int)  # 0 alone or head, 1 partner, 2 relative
    # Households: consecutive people, the first is the head.
    start, h = 0, 0
    members_wanted = int(round(s.household_share * n))
    while members_wanted >= 2 and start < n - 1:
        size = int(min(rng.integers(2, s.max_household + 1), members_wanted, n - start))
        if size < 2:
            break
        household[start:start + size] = h
        role[start + 1] = 1
        role[start + 2:start + size] = 2
        sex[start + 1] = "F" if sex[start] == "M" else "M"
        age[start + 1] = np.clip(age[start] + rng.integers(-6, 7), 18, 85)
        for k in range(start + 2, start + size):
            if rng.random() < 0.5:  # a sibling or cousin of the same generation
                age[k] = np.clip(age[start] + rng.integers(-8, 9), 16, 85)
            else:  # a grown-up child
                age[k] = np.clip(age[start] - rng.integers(20, 31), 16, 60)
        start += size
        members_wanted -= size
        h += 1
    # Shuffle the order so household members are not neighbours in the files.
    order = rng.permutation(n)
    sex, age, household, role = sex[order], age[order], household[order], role[order]

    frequent = rng.random(n) < s.share_frequent_names
    first_families = FIRST_NAME_FAMILIES[: s.first_name_families]
    pools = _french_pools(rng)
    first_name = np.empty(n, dtype=object)
    first_family = np.full(n, -1)
    nickname_forms: list[tuple[str, ...]] = [()] * n
    for sx in ("M", "F"):
        ids = [k for k, fam in enumerate(first_families) if fam[1] == sx]
        if not ids:
            ids = list(range(len(first_families)))
        chosen = np.flatnonzero(frequent & (sex == sx))
        picks = np.asarray(ids)[rng.choice(len(ids), size=len(chosen), p=_zipf(len(ids)))]
        first_family[chosen] = picks
        french = np.flatnonzero(~frequent & (sex == sx))
        first_name[french] = pools[sx][rng.integers(len(pools[sx]), size=len(french))]
    # The person's own spelling: the family's first spelling most often.
    named = np.flatnonzero(first_family >= 0)
    sizes = np.array([len(f[0]) for f in first_families])
    spelling = _own_spellings(sizes[first_family[named]], rng)
    for k, v in zip(named, spelling, strict=True):
        spellings, _, short = first_families[first_family[k]]
        first_name[k] = spellings[v]
        nickname_forms[k] = short
    last_families = LAST_NAME_FAMILIES[: s.last_name_families]
    last_family = np.full(n, -1)
    frequent_last = frequent.copy()
    last_family[frequent_last] = rng.choice(len(last_families), size=int(frequent_last.sum()),
                                            p=_zipf(len(last_families)))
    last_name = np.empty(n, dtype=object)
    last_name[~frequent_last] = pools["last"][rng.integers(len(pools["last"]),
                                                           size=int((~frequent_last).sum()))]
    named = np.flatnonzero(last_family >= 0)
    sizes = np.array([len(f) for f in last_families])
    spelling = _own_spellings(sizes[last_family[named]], rng)
    for k, v in zip(named, spelling, strict=True):
        last_name[k] = last_families[last_family[k]][v]

    weights = np.asarray(COMMUNE_WEIGHTS, dtype=float)
    commune = rng.choice(len(COMMUNES), size=n, p=weights / weights.sum())
    centre = np.array([(c[1], c[2]) for c in COMMUNES])[commune]
    spot = centre + rng.normal(0, 0.008, (n, 2))
    # Household members share the head's last name (and its spelling), commune and spot,
    # and a first name of their own.
    heads = {}
    for k in np.flatnonzero(household >= 0):
        if role[k] == 0:
            heads[household[k]] = k
    taken: dict[int, tuple[set, set]] = {  # first names and families used in the household
        h: ({first_name[k]}, {first_family[k]} - {-1}) for h, k in heads.items()
    }
    for k in np.flatnonzero((household >= 0) & (role > 0)):
        head = heads.get(household[k])
        if head is None:
            continue
        last_name[k], last_family[k] = last_name[head], last_family[head]
        commune[k], spot[k] = commune[head], spot[head] + rng.normal(0, 0.0005, 2)
        names, families = taken[household[k]]
        if first_family[k] >= 0 and first_family[k] in families:
            free = [f for f, fam in enumerate(first_families)
                    if fam[1] == sex[k] and f not in families]
            if free:
                first_family[k] = free[int(rng.integers(len(free)))]
                spellings, _, short = first_families[first_family[k]]
                first_name[k], nickname_forms[k] = spellings[0], short
            else:  # every family of the list is taken in the household: a French name
                first_family[k], nickname_forms[k], first_name[k] = -1, (), None
        while first_name[k] is None or first_name[k] in names:
            pool = pools[sex[k]]
            first_name[k] = pool[int(rng.integers(len(pool)))]
        names.add(first_name[k])
        if first_family[k] >= 0:
            families.add(first_family[k])
    birth_date = REFERENCE_DAY - np.round(age * 365.25).astype("timedelta64[D]")
    nickname = np.empty(n, dtype=object)
    for k in range(n):
        short = nickname_forms[k]
        if short and rng.random() < 0.5:
            nickname[k] = short[int(rng.integers(len(short)))]
        elif first_family[k] < 0 and rng.random() < 0.3:
            head = _plain(first_name[k])[:2].capitalize()
            nickname[k] = head + head.lower()  # Jojo, Mimi...
        else:
            nickname[k] = GENERIC_NICKNAMES[int(rng.integers(len(GENERIC_NICKNAMES)))]
    return {
        "sex": sex, "birth_date": birth_date, "household": household,
        "first_name": first_name, "first_family": first_family,
        "last_name": last_name, "last_family": last_family,
        "commune": commune, "spot": spot, "nickname": nickname,
    }


def _own_spellings(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For families of ``counts`` spellings, one spelling each (the first ones likelier)."""
    u = rng.random(len(counts))
    out = np.zeros(len(counts), dtype=int)
    for count in np.unique(counts):
        rows = counts == count
        cumulative = np.cumsum(_zipf(int(count), 1.5))
        out[rows] = np.minimum(np.searchsorted(cumulative, u[rows]), count - 1)
    return out


# ---------------------------------------------------------------------------------------------
# Records


def _record_counts(s: StressScenario, p: dict[str, np.ndarray],
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = s.people
    counts: dict[str, np.ndarray] = {}
    present = {}
    for source in STRESS_SOURCES:
        present[source] = rng.random(n) < s.sources[source].presence
    # Household members use the services of their head most of the time.
    household = p["household"]
    head_of = {}
    for k in np.flatnonzero(household >= 0):
        head_of.setdefault(household[k], k)
    for k in np.flatnonzero(household >= 0):
        head = head_of[household[k]]
        if head != k and rng.random() < 0.7:
            for source in STRESS_SOURCES:
                present[source][k] = present[source][head]
    nowhere = ~np.any([present[source] for source in STRESS_SOURCES], axis=0)
    weights = np.array([s.sources[source].presence for source in STRESS_SOURCES])
    forced = rng.choice(len(STRESS_SOURCES), size=int(nowhere.sum()), p=weights / weights.sum())
    for k, source_index in zip(np.flatnonzero(nowhere), forced, strict=True):
        present[STRESS_SOURCES[source_index]][k] = True
    for source in STRESS_SOURCES:
        extra = rng.poisson(s.sources[source].extra_records, n)
        counts[source] = np.where(present[source], 1 + extra, 0)
    callers = present[APPELS_115] & (rng.random(n) < s.frequent_callers)
    counts[APPELS_115][callers] = rng.integers(8, 14, int(callers.sum()))
    # The heavy tail stops at `max_records`: the 115 calls give way first.
    total = sum(counts.values())
    over = np.maximum(total - s.max_records, 0)
    counts[APPELS_115] = np.maximum(counts[APPELS_115] - over, 0)
    total = sum(counts.values())
    over = np.maximum(total - s.max_records, 0)
    for source in (MARAUDE, ACCUEIL_JOUR):
        cut = np.minimum(over, np.maximum(counts[source] - 1, 0))
        counts[source] -= cut
        over -= cut
    return counts


def _times(source: str, person: np.ndarray, rng: np.random.Generator,
           windows: dict[str, np.ndarray]) -> np.ndarray:
    m = len(person)
    if source == NUIT:
        return COUNT_NIGHT_START + (rng.random(m) * 3 * 3600).astype("timedelta64[s]")
    if source == MARAUDE:  # one fortnight per person
        offset = rng.random(m) * 14
    elif source == APPELS_115:
        offset = rng.random(m) * 120
    elif source == ACCUEIL_JOUR:
        offset = rng.random(m) * 60
    else:
        offset = rng.random(m) * 300
    start = windows[source][person]
    return start + (offset * 86400).astype("timedelta64[s]")


def _error_draw(rate: float, scale: float, size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random(size) < min(rate * scale, 1.0)


def generate_stress(scenario: StressScenario) -> StressSample:
    """Draw the population and the five sources' records of ``scenario``."""
    s = scenario
    rng = np.random.default_rng(s.seed)
    p = _people(s, rng)
    counts = _record_counts(s, p, rng)
    n = s.people
    windows = {
        source: YEAR_START + (rng.random(n) * (350 - span) * 86400).astype("timedelta64[s]")
        for source, span in ((SI_SIAO, 300), (APPELS_115, 120), (MARAUDE, 14),
                             (ACCUEIL_JOUR, 60), (NUIT, 0))
    }
    first_families = FIRST_NAME_FAMILIES[: s.first_name_families]
    last_families = LAST_NAME_FAMILIES[: s.last_name_families]
    # Outreach teams know a person by nickname or not, mostly always the same way.
    known_by_nickname = rng.random(n) < s.outreach_nickname_rate
    frames = []
    for source in STRESS_SOURCES:
        person = np.repeat(np.arange(n), counts[source])
        m = len(person)
        if m == 0:
            continue
        profile = s.sources[source]
        scale = s.error_scale
        first = p["first_name"][person].copy()
        last = p["last_name"][person].copy()
        # Transliteration variants: another spelling of the person's family.
        for names, families, table in ((first, p["first_family"], first_families),
                                       (last, p["last_family"], last_families)):
            fam = families[person]
            hit = np.flatnonzero(_error_draw(profile.variant, scale, m, rng) & (fam >= 0))
            for r in hit:
                family = table[fam[r]]
                spellings = family[0] if isinstance(family[0], tuple) else family
                names[r] = spellings[int(rng.integers(len(spellings)))]
        for names in (first, last):
            for r in np.flatnonzero(_error_draw(profile.typo / 2, scale, m, rng)):
                names[r] = _typo(names[r], rng)
        swap = _error_draw(profile.swap_names, scale, m, rng)
        first[swap], last[swap] = last[swap], first[swap].copy()

        birth = p["birth_date"][person].copy()
        # At most one date error per record, drawn in this order.
        kinds = rng.random(m)
        rates = np.cumsum([profile.swap_day_month, profile.placeholder, profile.digit,
                           profile.year_shift]) * scale
        swap_dm = kinds < rates[0]
        placeholder = (kinds >= rates[0]) & (kinds < rates[1])
        digit = (kinds >= rates[1]) & (kinds < rates[2])
        shift = (kinds >= rates[2]) & (kinds < rates[3])
        signs = np.where(rng.random(m) < 0.5, -1, 1)
        for r in np.flatnonzero(swap_dm | placeholder | digit | shift):
            birth[r] = _date_error(birth[r], swap_dm[r], placeholder[r], digit[r],
                                   int(signs[r]), rng)
        year_value = birth.astype("datetime64[Y]").astype(int) + 1970

        observed = _times(source, person, rng, windows)
        observed_day = observed.astype("datetime64[D]")
        true_birth = p["birth_date"][person]
        true_age = ((observed_day - true_birth).astype(int) / 365.25).astype(int)
        declared_age = np.where(shift, true_age + signs, true_age)
        sex = p["sex"][person].copy()
        commune = np.array([c[0] for c in COMMUNES], dtype=object)[p["commune"][person]]
        lat = np.full(m, np.nan)
        lon = np.full(m, np.nan)

        out = {c: np.full(m, "", dtype=object) for c in RECORD_COLUMNS}
        out["source"][:] = source
        date_text = np.datetime_as_string(birth, unit="D").astype(object)
        if source == SI_SIAO:
            upper = rng.random(m) < 0.7
            out["first_name"] = first
            out["last_name"] = np.where(upper, [x.upper() for x in last], last)
            has_date = rng.random(m) < s.share_siao_full_birth_date
            out["birth_date"] = np.where(has_date, date_text, "")
            out["sex"] = sex
            out["commune_code"] = np.where(rng.random(m) < 0.95, commune, "")
        elif source == APPELS_115:
            plain = rng.random(m) < 0.5  # typed from a phone call: accents often lost
            out["first_name"] = np.where(plain, [_plain(x) for x in first], first)
            out["last_name"] = np.where(rng.random(m) < 0.05, "",
                                        np.where(plain, [_plain(x) for x in last], last))
            full = rng.random(m) < s.share_115_full_birth_date
            out["birth_date"] = np.where(full, date_text, "")
            out["age"] = np.where(full, "", declared_age.astype(str))
            out["sex"] = np.where(rng.random(m) < 0.97, sex, "")
            out["commune_code"] = np.where(rng.random(m) < 0.6, commune, "")
        elif source == MARAUDE:
            nick = known_by_nickname[person] ^ (rng.random(m) < 0.15)
            out["first_name"] = np.where(nick, p["nickname"][person], first)
            seen_age = np.clip(true_age + rng.integers(-5, 6, m), 16, 95)
            out["age"] = seen_age.astype(str)
            out["sex"] = np.where(rng.random(m) < 0.9, sex, "")
            lat = p["spot"][person, 0] + rng.normal(0, 0.002, m)
            lon = p["spot"][person, 1] + rng.normal(0, 0.002, m)
            out["commune_code"] = commune
        elif source == ACCUEIL_JOUR:
            out["first_name"] = first
            out["last_name"] = np.where(rng.random(m) < 0.1, "", last)
            has_year = rng.random(m) < s.share_day_centre_birth_year
            out["birth_year"] = np.where(has_year, year_value.astype(str), "")
            out["sex"] = sex
            out["commune_code"] = commune
        else:  # NUIT
            interviewed = rng.random(m) < s.share_night_interviewed
            out["initials"] = np.where(
                interviewed,
                [(_plain(a)[:1] + _plain(b)[:1]).upper() for a, b in zip(first, last, strict=True)],
                "",
            )
            out["birth_year"] = np.where(interviewed, year_value.astype(str), "")
            looks = true_age + rng.normal(0, 6, m)
            decade = np.clip(np.round(looks / 10) * 10, 20, 80).astype(int)
            out["age"] = np.where(interviewed, "", decade.astype(str))
            out["sex"] = np.where(rng.random(m) < 0.95, sex, "")
            lat = p["spot"][person, 0] + rng.normal(0, 0.003, m)
            lon = p["spot"][person, 1] + rng.normal(0, 0.003, m)
            out["commune_code"] = commune
        if not np.isnan(lat).all():
            out["latitude"] = np.char.mod("%.5f", lat).astype(object)
            out["longitude"] = np.char.mod("%.5f", lon).astype(object)
        out["observed_at"] = np.char.add(np.datetime_as_string(observed, unit="s"),
                                         "+00:00").astype(object)
        frame = pd.DataFrame(out, columns=list(RECORD_COLUMNS))
        frame["_person"] = person
        frames.append(frame)
    records = pd.concat(frames, ignore_index=True)
    # Shuffled, with identifiers that say nothing of the person.
    records = records.iloc[rng.permutation(len(records))].reset_index(drop=True)
    width = len(str(len(records)))
    records["record_id"] = [f"E{k:0{width}d}" for k in range(1, len(records) + 1)]
    person_ids = np.array([f"P{k:06d}" for k in range(1, n + 1)], dtype=object)
    truth = pd.DataFrame({"record_id": records["record_id"],
                          "person_id": person_ids[records["_person"].to_numpy()]})
    records = records.drop(columns="_person")
    people = pd.DataFrame({
        "person_id": person_ids, "first_name": p["first_name"], "last_name": p["last_name"],
        "sex": p["sex"], "birth_date": np.datetime_as_string(p["birth_date"], unit="D"),
        "household_id": p["household"],
    })
    return StressSample(scenario=s, records=records, truth=truth, people=people)


def write_stress(sample: StressSample, directory: str | Path) -> dict[str, Path]:
    """Write ``records.csv`` (interchange format) and ``verite.csv`` (record_id,person_id)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"records": directory / "records.csv", "verite": directory / "verite.csv"}
    sample.records.to_csv(paths["records"], index=False, encoding="utf-8")
    sample.truth.to_csv(paths["verite"], index=False, encoding="utf-8")
    return paths
