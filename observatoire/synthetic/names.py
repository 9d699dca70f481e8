"""Name pools for synthetic people, and the spelling variants social workers really write.

People met in French street counts come from France and from many other places. Faker covers
France, Algeria (``fr_DZ``, already in the French transliteration used by civil registries),
Romania, Poland, Bulgaria, Ukraine and Georgia; Bulgarian, Ukrainian and Georgian names are
transliterated from Cyrillic and Georgian script the way a French social worker writes them
(``ch`` for ш/შ, ``tch`` for ч/ჩ, ``ou`` for у/უ, ``j`` for ж/ჟ: *Iaremtchouk*, *Mindiachvili*).
The Arabic-script ``ar_*`` locales are not used: written without vowels they cannot be
transliterated reliably, and ``fr_DZ`` plus the curated Moroccan and Tunisian names below give
what a French register holds. West Africa, Afghanistan and Roma names come from curated lists.

Pools are drawn once per sample from a seeded Faker, then people are sampled from them with
numpy, which keeps 300,000 people fast.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker

# Shares of origins among the people known over a year (orders of magnitude of Paris and
# Lyon counts, where about half the people met are born abroad).
ORIGINS: dict[str, float] = {
    "france": 0.45,
    "maghreb": 0.18,
    "afrique_ouest": 0.12,
    "afghanistan": 0.04,
    "europe_est": 0.10,
    "georgie": 0.04,
    "roumanie_rom": 0.07,
}

# Name groups of each origin: (origin, name source, share inside the origin, nationalities).
# A source is a Faker locale or a curated list below.
NAME_GROUPS: tuple[tuple[str, str, float, tuple[str, ...]], ...] = (
    ("france", "fr_FR", 1.0, ("Française",)),
    ("maghreb", "fr_DZ", 0.7, ("Algérienne",)),
    ("maghreb", "maghreb", 0.3, ("Marocaine", "Tunisienne")),
    ("afrique_ouest", "afrique_ouest", 1.0,
     ("Sénégalaise", "Malienne", "Guinéenne", "Ivoirienne", "Mauritanienne")),
    ("afghanistan", "afghanistan", 1.0, ("Afghane",)),
    ("europe_est", "ro_RO", 0.35, ("Roumaine",)),
    ("europe_est", "bg_BG", 0.2, ("Bulgare",)),
    ("europe_est", "uk_UA", 0.25, ("Ukrainienne",)),
    ("europe_est", "pl_PL", 0.2, ("Polonaise",)),
    ("georgie", "ka_GE", 1.0, ("Géorgienne",)),
    ("roumanie_rom", "ro_RO", 0.5, ("Roumaine",)),
    ("roumanie_rom", "roma", 0.5, ("Roumaine",)),
)  # fmt: skip

_MAGHREB_EXTRA = {
    "male": "Mohamed Ahmed Youssef Rachid Karim Mustapha Abdelkader Hicham Said Khalid Driss "
    "Abderrahmane Omar Nabil Brahim Hassan Mehdi Samir Djamel Hocine Ismail Larbi Mourad "
    "Abdellah Redouane Ayoub Anouar Zakaria Bilal Tarek",
    "female": "Fatima Khadija Aicha Naima Malika Samira Nadia Leila Zineb Meriem Hafsa Saida "
    "Rachida Latifa Amina Houda Karima Fatiha",
    "last": "El Amrani Benali Bennani Alaoui Benjelloun Tazi Chraibi El Idrissi Ouali Benmoussa "
    "Belhadj Haddad Ben Salah Trabelsi Jebali Mansouri Gharbi Ben Ammar Zouari Bouzid "
    "Ait Ahmed Ben Youssef El Fassi Berrada Lahlou Ziani Boukhari Cherkaoui Ouazzani",
}

_AFRIQUE_OUEST = {
    "male": "Mamadou Moussa Ibrahima Abdoulaye Ousmane Amadou Souleymane Seydou Boubacar "
    "Cheikh Modou Lamine Sekou Bakary Alassane Oumar Aliou Idrissa Kouassi Yao Koffi "
    "Aboubacar Demba Samba Adama Fodé Mohamed Issa Drissa Lassana Siaka Mory Ansoumane "
    "Thierno Alpha Saliou Babacar Karamoko",
    "female": "Aminata Fatoumata Mariama Awa Kadiatou Aïssatou Fatou Hawa Oumou Ramatoulaye "
    "Adjoua Aya Mariam Binta Khady Ndeye Assitan Djeneba Salimata Nafissatou",
    "last": "Diallo Traoré Diop Ndiaye Camara Keita Coulibaly Konaté Sow Ba Barry Bah Cissé "
    "Touré Sylla Diarra Sangaré Kouyaté Kouamé Koné Fofana Doumbia Sissoko Dembélé Bamba "
    "Ouattara Diakité Kanté Gueye Faye Sarr Fall Mbaye Seck Niang Konaré Yéo Baldé Condé "
    "Soumah Kamara Tall Dramé Sacko Magassa",
}

_AFGHANISTAN = {
    "male": "Mohammad Ahmad Abdul Ali Hamid Karim Rahim Naveed Farid Jawad Mustafa Noor "
    "Rahmatullah Zabihullah Hamidullah Sayed Bilal Omid Hekmat Wahid Javid Massoud Najib "
    "Shafiq Aziz Habib Ismail Rashid Samiullah Ehsan Fawad Gul Sharif Ajmal Khalid",
    "female": "Fatima Zahra Maryam Parwana Nargis Shabana Farzana Mina Laila Soraya Habiba "
    "Malalai Roya Shirin Zarghuna Nazanin",
    "last": "Ahmadi Mohammadi Hashimi Rahimi Karimi Sultani Hakimi Nazari Haidari Popal "
    "Stanekzai Wardak Safi Noori Amiri Hussaini Sadat Azizi Jalali Qaderi Rezaei Yousufzai "
    "Shinwari Mohmand Durrani Khan Zazai Niazi Barakzai Popalzai Sharifi Ahmadzai",
}

_ROMA = {
    "male": "Costică Florin Marian Ionuț Nicu Gheorghe Vasile Fănel Sandu Dorel Ion Mihai "
    "Petrică Adrian Cristian Stelian Daniel Marius Viorel Remus",
    "female": "Florentina Mirela Lenuța Ramona Mariana Elena Lăcrămioara Nicoleta Daniela "
    "Florica Maria Ana Violeta Sorina Luminița",
    "last": "Stoica Lingurar Căldărar Rostaș Moldovan Dumitru Constantin Ion Stan Rădulescu "
    "Lăcătuș Petcu Mihai Dobre Zanfir Tănase Marin Nistor Florea Anghel Ciurar Covaci "
    "Șerban Radu Sârbu Gabor Lupu Stănescu",
}


def _split(text: str) -> list[str]:
    """Split a curated list; names made of two words are joined by a non-breaking marker."""
    out: list[str] = []
    words = text.split()
    particles = {"El", "Ben", "Ait", "Abdel"}
    i = 0
    while i < len(words):
        if words[i] in particles and i + 1 < len(words):
            out.append(f"{words[i]} {words[i + 1]}")
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


_CURATED: dict[str, dict[str, list[str]]] = {
    "maghreb": {k: _split(v) for k, v in _MAGHREB_EXTRA.items()},
    "afrique_ouest": {k: _split(v) for k, v in _AFRIQUE_OUEST.items()},
    "afghanistan": {k: _split(v) for k, v in _AFGHANISTAN.items()},
    "roma": {k: _split(v) for k, v in _ROMA.items()},
}

# French-style transliteration of Cyrillic (Ukrainian and Bulgarian differ on г, и, щ, ъ).
_CYRILLIC_COMMON = {
    "а": "a", "б": "b", "в": "v", "ґ": "g", "д": "d", "е": "e", "ё": "io", "є": "ie",
    "ж": "j", "з": "z", "і": "i", "ї": "ï", "й": "ï", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "ou", "ф": "f", "х": "kh",
    "ц": "ts", "ч": "tch", "ш": "ch", "ь": "", "ю": "iou", "я": "ia", "'": "", "’": "",
    "ы": "y", "э": "e",
}  # fmt: skip
_CYRILLIC = {
    "uk_UA": {**_CYRILLIC_COMMON, "г": "h", "и": "y", "щ": "chtch", "ъ": ""},
    "bg_BG": {**_CYRILLIC_COMMON, "г": "g", "и": "i", "щ": "cht", "ъ": "a", "й": "i"},
}
# Georgian (mkhedruli) as French texts write it: Djougachvili, Chevardnadze.
_GEORGIAN = {
    "ა": "a", "ბ": "b", "გ": "g", "დ": "d", "ე": "e", "ვ": "v", "ზ": "z", "თ": "t", "ი": "i",
    "კ": "k", "ლ": "l", "მ": "m", "ნ": "n", "ო": "o", "პ": "p", "ჟ": "j", "რ": "r", "ს": "s",
    "ტ": "t", "უ": "ou", "ფ": "p", "ქ": "k", "ღ": "gh", "ყ": "q", "შ": "ch", "ჩ": "tch",
    "ც": "ts", "ძ": "dz", "წ": "ts", "ჭ": "tch", "ხ": "kh", "ჯ": "dj", "ჰ": "h",
}  # fmt: skip


def capitalise(name: str) -> str:
    """Capitalise each part of a name (``"ben ali-salah"`` -> ``"Ben Ali-Salah"``)."""
    return re.sub(r"(^|[\s\-'])(\w)", lambda m: m.group(1) + m.group(2).upper(), name.lower())


def transliterate(name: str, locale: str) -> str:
    """Write a Cyrillic or Georgian name in Latin letters, French style."""
    table = _GEORGIAN if locale == "ka_GE" else _CYRILLIC.get(locale)
    if table is None:
        return name
    out = "".join(table.get(ch, ch) for ch in name.lower())
    # French doubles s between vowels to keep it voiceless (Vassili, Oksana stays).
    out = re.sub(r"(?<=[aeiouy])s(?=[aeiouy])", "ss", out)
    return capitalise(out)


def strip_accents(text: str) -> str:
    """Drop diacritics (``"Aïssatou"`` -> ``"Aissatou"``, ``"Rostaș"`` -> ``"Rostas"``)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


# Families of spellings of the same name, as they appear across partner files. The first
# member is the most frequent spelling in French registers.
VARIANT_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("Mohamed", "Mohammed", "Mouhamed", "Muhammad", "Mohamad", "Mohammad", "Mouhammad"),
    ("Abdelkader", "Abdel Kader", "Abdelkadir", "Abdel-Kader", "Abdulkader"),
    ("Youssef", "Youcef", "Yusuf", "Youssouf", "Yousef"),
    ("Oleksandr", "Olexandr", "Aleksandr", "Alexandr", "Oleksandre"),
    ("Giorgi", "Guiorgui", "Gueorgui", "Georgi"),
    ("Mamadou", "Mamadu", "Mamado"),
    ("Abdoulaye", "Abdulaye", "Abdoulay", "Abdullahi"),
    ("Ibrahima", "Ibrahim", "Brahim", "Ibrahime"),
    ("Ousmane", "Usman", "Osman", "Ousman", "Othmane"),
    ("Moussa", "Musa", "Mousa"),
    ("Souleymane", "Souleiman", "Sulayman", "Slimane", "Suleiman"),
    ("Amadou", "Ahmadou", "Amadu"),
    ("Boubacar", "Aboubacar", "Boubakar", "Aboubakar", "Abubakar"),
    ("Fatoumata", "Fatimata", "Fatumata"),
    ("Aïssatou", "Aissatou", "Aïchatou", "Aisatou"),
    ("Aicha", "Aïcha", "Aisha", "Aïsha"),
    ("Fatima", "Fatma", "Fatimah"),
    ("Khadija", "Khadidja", "Kadija", "Khadiga"),
    ("Karim", "Kareem", "Carim"),
    ("Rachid", "Rashid", "Rachide"),
    ("Ahmed", "Ahmad", "Ahmet", "Hamed"),
    ("Abderrahmane", "Abderahmane", "Abdel Rahmane", "Abdulrahman", "Abderrahman"),
    ("Mustapha", "Mustafa", "Moustapha", "Mostafa"),
    ("Hocine", "Hussein", "Hussain", "Houssein", "Husayn"),
    ("Said", "Saïd", "Sayed", "Saeed"),
    ("Djamel", "Jamel", "Jamal", "Djamal"),
    ("Noor", "Nour", "Nur"),
    ("Omar", "Oumar", "Umar"),
    ("Ismail", "Ismaël", "Ismaïl", "Smail"),
    ("Cheikh", "Cheick", "Sheikh"),
    ("Ndiaye", "N'Diaye", "Ndiay"),
    ("Traoré", "Traore", "Traorè"),
    ("Diallo", "Dialo", "Jallow"),
    ("Coulibaly", "Kulibali", "Koulibaly"),
    ("Konaté", "Konate", "Kounaté"),
    ("Dmytro", "Dmitri", "Dmitro", "Dimitri"),
    ("Serhiy", "Sergiy", "Sergueï", "Serguei", "Sergey"),
    ("Andriy", "Andrii", "Andreï", "Andrei"),
    ("Olena", "Elena", "Helena", "Hélène"),
    ("Iouri", "Yuriy", "Yuri", "Iuri"),
    ("Gheorghe", "Gheorge", "Georghe"),
    ("Ionuț", "Ionut", "Ionutz"),
    ("Mihai", "Mihaï", "Mihail"),
    ("Vasile", "Vassile", "Vasili", "Vassili"),
    ("Zourab", "Zurab"),
    ("Irakli", "Irakliy", "Irakly"),
    ("Ahmadi", "Ahmady"),
    ("Mohammadi", "Mohamadi", "Muhammadi"),
    ("Zabihullah", "Zabiullah", "Zabihollah"),
    ("Rahmatullah", "Rahmatoullah", "Rahmatulla"),
    ("Hamidullah", "Hamidoullah", "Hamidulla"),
    ("Samiullah", "Samioullah", "Sami Ullah"),
)


@lru_cache(maxsize=200_000)
def _key(name: str) -> str:
    return strip_accents(name).lower().replace("-", " ").replace("'", "")


VARIANT_INDEX: dict[str, tuple[str, ...]] = {
    _key(member): family for family in VARIANT_FAMILIES for member in family
}

# Spelling rules for names outside the families (pattern, replacement), tried in order.
VARIANT_RULES: tuple[tuple[str, str], ...] = (
    (r"chvili$", "shvili"),
    (r"shvili$", "chvili"),
    (r"dze$", "dzé"),
    (r"tch", "ch"),
    (r"ou", "u"),
    (r"dj", "j"),
    (r"kh", "h"),
    (r"ph", "f"),
    (r"ck", "k"),
    (r"y", "i"),
    (r"ï", "i"),
    (r"ss", "s"),
    (r"tt", "t"),
    (r"ll", "l"),
    (r"nn", "n"),
    (r"mm", "m"),
    (r"ei", "ai"),
    (r"ault$", "ot"),
    (r"eau", "o"),
    (r"c(?=[aou])", "k"),
    (r"qu", "k"),
)


@dataclass(frozen=True)
class NamePool:
    """Names of one origin with their sampling weights (numpy arrays of Python strings)."""

    first_male: np.ndarray
    first_female: np.ndarray
    last_male: np.ndarray
    last_female: np.ndarray
    w_first_male: np.ndarray
    w_first_female: np.ndarray
    w_last_male: np.ndarray
    w_last_female: np.ndarray


def _weighted(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Deduplicate keeping first-seen order; weights are the counts."""
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    values = np.array(list(counts), dtype=object)
    weights = np.array(list(counts.values()), dtype=float)
    return values, weights / weights.sum()


def _zipf(names: list[str], draws: int) -> list[str]:
    """Repeat a curated list so that the first names are the most frequent (Zipf-like)."""
    w = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    reps = np.maximum(1, np.round(w / w.sum() * draws)).astype(int)
    return [n for n, r in zip(names, reps, strict=True) for _ in range(r)]


def build_name_pools(seed: int, pool_size: int = 400) -> list[NamePool]:
    """Draw one pool of names per entry of `NAME_GROUPS` (same order), from seeded Faker
    instances (draws keep Faker's frequencies) or curated lists (Zipf-like frequencies)."""
    pools: list[NamePool] = []
    for g, (_origin, source, _share, _nat) in enumerate(NAME_GROUPS):
        curated = _CURATED.get(source)
        if curated is None:
            fake = Faker(source)
            fake.seed_instance(seed * 1009 + g)

            def draw(method, loc: str = source) -> list[str]:
                return [transliterate(method(), loc) for _ in range(pool_size)]

            male, female = draw(fake.first_name_male), draw(fake.first_name_female)
            last_m, last_f = draw(fake.last_name_male), draw(fake.last_name_female)
        else:
            male = _zipf(curated["male"], pool_size)
            female = _zipf(curated["female"], pool_size)
            last_m = last_f = _zipf(curated["last"], pool_size)
        fm, wfm = _weighted(male)
        ff, wff = _weighted(female)
        lm, wlm = _weighted(last_m)
        lf, wlf = _weighted(last_f)
        pools.append(NamePool(fm, ff, lm, lf, wfm, wff, wlm, wlf))
    return pools


NICKNAMES: tuple[str, ...] = (
    "Le Grand", "Papi", "Tonton", "Mamie", "Rasta", "Titi", "Bouboule", "Le Marin", "Cowboy",
    "Pépé", "La Blonde", "Le Chef", "Petit Louis", "Nounours", "Le Prof", "Coco", "Gigi",
    "Le Poète", "Kiki", "Zizou", "Momo", "Djo", "Marco", "Nono", "Fredo", "Bébert",
)  # fmt: skip
