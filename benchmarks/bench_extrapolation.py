"""Sectors not walked on the count night: error and interval coverage of the extrapolation.

Synthetic territories (300 sectors in 12 communes, a lasting lognormal density per sector,
counted on an earlier night and on the night itself); a share of the sectors (a tenth by
default) is not walked, its people are missing from the count, and
`observatoire.indicators.extrapolation.extrapolate_count` estimates them from the walked
sectors of the same density class (the earlier night's counts) or commune. The truth is the
night's full count, so the table gives the mean error, the share of draws within ±10 % and
the coverage of the 95 % interval::

    python benchmarks/bench_extrapolation.py                  # 20 draws, seeds 1000-1019
    python benchmarks/bench_extrapolation.py --first-seed 500 # the tests' seeds (tuning)

Seeds 500-519 are the ones `tests/test_hidden.py` checks; 1000 and up were used for nothing
else.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from observatoire.indicators.extrapolation import density_classes, extrapolate_count


def territory(seed: int, sectors: int, not_walked: float) -> tuple[pd.DataFrame, int]:
    """The night's sectors as the teams left them, and the true number of people."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(0.0, 1.0, sectors)) * 1.2
    frame = pd.DataFrame({
        "commune_code": rng.choice([f"21{i:03d}" for i in range(12)], sectors),
        "previous": rng.poisson(level),
        "people": rng.poisson(level),
    })
    truth = int(frame["people"].sum())
    skipped = np.random.default_rng(seed + 1).random(sectors) < not_walked
    frame["status"] = np.where(skipped, "not_started", "walked")
    frame["density_class"] = density_classes(frame["previous"])
    frame.loc[skipped, "people"] = 0
    return frame, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--sectors", type=int, default=300)
    parser.add_argument("--not-walked", type=float, default=0.1)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.draws):
        night, truth = territory(seed, args.sectors, args.not_walked)
        result = extrapolate_count(night, replicates=args.replicates, seed=seed)
        low, high = result.interval_95
        rows.append({"truth": truth, "counted": result.counted, "estimate": result.estimate,
                     "covered": low <= truth <= high, "width": (high - low) / truth})
    seconds = (time.perf_counter() - started) / len(rows)
    error = np.array([(r["estimate"] - r["truth"]) / r["truth"] for r in rows])
    shortfall = np.mean([1 - r["counted"] / r["truth"] for r in rows])
    print(f"seeds {args.first_seed}-{args.first_seed + args.draws - 1}, {args.sectors} "
          f"sectors, {args.not_walked:.0%} not walked, {args.replicates} replicates")
    print("| draws | counted short of truth | bias (mean) | mean abs. error | within ±10 % "
          "| 95% coverage | width / truth | s per night |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {len(rows)} | {shortfall:.1%} | {error.mean():+.1%} | {np.abs(error).mean():.1%} "
          f"| {int((np.abs(error) <= 0.10).sum())}/{len(rows)} "
          f"| {sum(r['covered'] for r in rows)}/{len(rows)} "
          f"| {np.mean([r['width'] for r in rows]):.1%} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
