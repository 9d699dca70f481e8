"""Dice thresholds of pseudonymised names that match the Jaro-Winkler ones of clear names.

Clear names are compared with Jaro-Winkler (levels at `JARO_WINKLER_LEVELS`), pseudonymised
ones with the Dice coefficient of their keyed Bloom filters. The two scales differ (one
letter changed in a five-letter name: Jaro-Winkler 0.92, Dice 0.67), so each Dice threshold
is chosen by rank: the share of pairs of distinct names with Dice above it equals the share
with Jaro-Winkler above the clear threshold. Computed on the synthetic name pools (no ground
truth, no sample), for two seeds::

    python benchmarks/calibrate_dice.py          # prints the thresholds for DICE_LEVELS
"""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cdist

from observatoire import names as keys
from observatoire.linkage.compare import JARO_WINKLER_LEVELS
from observatoire.linkage.encoded import bloom_matrix
from observatoire.pseudonymise import bloom_encode
from observatoire.synthetic.names import build_name_pools


def matched_thresholds(names: list[str], key: bytes = b"calibration-key-not-secret-0123456789"):
    values = np.array(sorted(set(names) - {""}), dtype=object)
    jw = cdist(list(values), list(values), scorer=JaroWinkler.normalized_similarity)
    bits = bloom_matrix(np.array([bloom_encode(key, v) for v in values], dtype=object))
    counts = np.bitwise_count(bits).sum(axis=1)
    common = np.array([np.bitwise_count(bits[k] & bits).sum(axis=1) for k in range(len(values))])
    dice = 2 * common / (counts[:, None] + counts[None, :])
    upper = np.triu_indices(len(values), 1)
    jw, dice = jw[upper], dice[upper]
    return len(values), [(t, float(np.quantile(dice, 1 - (jw >= t).mean())))
                         for t in JARO_WINKLER_LEVELS]


def main() -> None:
    for seed in (1, 99):
        pools = build_name_pools(seed)
        names = [keys.joined(keys.clean_letters(n)) for pool in pools
                 for column in (pool.first_male, pool.first_female, pool.last_male,
                                pool.last_female) for n in column]
        count, pairs = matched_thresholds(names)
        shown = ", ".join(f"Jaro-Winkler {t:.2f} -> Dice {d:.3f}" for t, d in pairs)
        print(f"seed {seed}: {count} distinct names: {shown}")


if __name__ == "__main__":
    main()
