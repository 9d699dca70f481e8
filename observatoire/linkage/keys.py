"""Name normalisation and phonetic keys of the linkage: defined in `observatoire.names`
(shared with `observatoire.pseudonymise`), imported here under the linkage's names."""

from observatoire.names import clean_letters as clean_name
from observatoire.names import (
    initials_of,
    joined,
    phonetic_fr,
    skeleton,
    sorted_letters,
    strip_accents,
)

__all__ = ["clean_name", "initials_of", "joined", "phonetic_fr", "skeleton", "sorted_letters",
           "strip_accents"]
