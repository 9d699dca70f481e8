"""Multiple-systems estimate of the hidden population: bias and interval coverage.

Populations from `observatoire.synthetic.catchability` (people seen by no source, truth
known), four settings (with and without heterogeneity of catchability, with and without
dependence between sources), at 2,000 and 20,000 people, over 20 seeds each; the linkage is
taken as exact here (its own uncertainty is measured by the linkage benchmarks), so the
figures are those of the estimator::

    python benchmarks/bench_hidden.py                       # 20 seeds, 2,000 and 20,000
    python benchmarks/bench_hidden.py --seeds 5 --sizes 2000 --replicates 100

Seeds 1000 and up: none of them was used to choose the estimator's settings (seeds 0-7
were, at 2,000 people, and at 20,000 for the overdispersion factor ĉ): ``--first-seed 0
--seeds 8`` prints the tuning split.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from observatoire.indicators.hidden import estimate_from_links
from observatoire.synthetic.catchability import (
    SOURCES,
    CatchabilityScenario,
    seen_records,
    simulate_captures,
)

SETTINGS = {
    "indépendantes, homogènes": dict(heterogeneity=False, dependence=False),
    "dépendantes, homogènes": dict(heterogeneity=False, dependence=True),
    "indépendantes, hétérogènes": dict(heterogeneity=True, dependence=False),
    "dépendantes, hétérogènes": dict(heterogeneity=True, dependence=True),
}


def run(size: int, setting: dict, seed: int, replicates: int, strata: bool,
        reselect: bool) -> dict:
    population = simulate_captures(CatchabilityScenario(people=size, seed=seed, **setting))
    seen = seen_records(population)
    links = seen.assign(person_id=seen["person_id"].astype(str),
                        stratum=seen["sex"] + " " + seen["age_band"])
    estimate = estimate_from_links(links, sources=SOURCES, draws=0, replicates=replicates,
                                   seed=seed, stratum="stratum" if strata else None,
                                   reselect=reselect, sensitivity=False)
    low, high = estimate.interval_95
    low90, high90 = estimate.interval_90
    return {"observed": estimate.observed, "estimate": estimate.estimate,
            "low": low, "high": high, "truth": size, "covered": low <= size <= high,
            "covered90": low90 <= size <= high90, "strata": bool(estimate.strata),
            "model": estimate.model, "overdispersion": estimate.overdispersion}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--strata", action="store_true",
                        help="one model per sex × age band (pooled where too thin)")
    parser.add_argument("--no-reselect", dest="reselect", action="store_false",
                        help="average the three leading models instead of choosing again "
                             "on every replicate")
    parser.add_argument("--details", action="store_true",
                        help="one line per seed on stderr (estimate, interval, model)")
    parser.add_argument("--settings", nargs="+", choices=range(1, len(SETTINGS) + 1),
                        type=int, default=list(range(1, len(SETTINGS) + 1)),
                        help="which settings (1-4, in the table's order)")
    args = parser.parse_args()
    split = "report only" if args.first_seed >= 1000 else "tuning"
    print(f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1} ({split}), "
          f"{args.replicates} bootstrap replicates, "
          f"strata: {'sex × age band' if args.strata else 'none'}, "
          f"model {'chosen again on every replicate' if args.reselect else 'averaged'}")
    print("| setting | people | unseen | bias (mean) | |bias| (mean) | 90% coverage | "
          "95% coverage | width 95 / truth | s per estimate |")
    print("|---|---|---|---|---|---|---|---|---|")
    chosen = [name for i, name in enumerate(SETTINGS, 1) if i in args.settings]
    for size in args.sizes:
        for name in chosen:
            setting = SETTINGS[name]
            started = time.perf_counter()
            rows = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                r = run(size, setting, seed, args.replicates, args.strata, args.reselect)
                rows.append(r)
                if args.details:  # as each seed finishes, so that a long run shows progress
                    print(f"  {name} {size} seed {seed}: {r['estimate']} "
                          f"[{r['low']}, {r['high']}] error "
                          f"{(r['estimate'] - size) / size:+.1%} covered {r['covered']} "
                          f"ĉ {r['overdispersion']:.2f} {r['model']}", file=sys.stderr,
                          flush=True)
            seconds = (time.perf_counter() - started) / len(rows)
            error = np.array([(r["estimate"] - r["truth"]) / r["truth"] for r in rows])
            unseen = np.mean([1 - r["observed"] / r["truth"] for r in rows])
            width = np.mean([(r["high"] - r["low"]) / r["truth"] for r in rows])
            covered = sum(r["covered"] for r in rows)
            covered90 = sum(r["covered90"] for r in rows)
            print(f"| {name} | {size:,} | {unseen:.0%} | {error.mean():+.1%} | "
                  f"{np.abs(error).mean():.1%} | {covered90}/{len(rows)} | "
                  f"{covered}/{len(rows)} | {width:.1%} | "
                  f"{seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
