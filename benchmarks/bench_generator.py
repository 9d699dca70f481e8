"""Time and peak memory of the synthetic sample generator, up to national size.

    python benchmarks/bench_generator.py                 # 2,000 / 20,000 / 300,000 people
    python benchmarks/bench_generator.py --people 50000  # one size

Prints one line per size: people, partner rows, observations, seconds, peak RSS (MB).
Each size runs in a fresh process so that peak memory is that size's own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _one(n_people: int, territory: str, seed: int) -> dict:
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample

    communes = load_reference_territory(territory)
    sectors = generate_grid_sectors(communes, 1000)
    start = time.perf_counter()
    sample = generate_sample(communes, sectors, seed=seed, n_people=n_people)
    seconds = time.perf_counter() - start
    return {
        "people": len(sample.people),
        "partner_rows": sum(len(f) for f in sample.partner_files.values()),
        "observations": len(sample.observations),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="*", default=[2_000, 20_000, 300_000])
    parser.add_argument("--territory", default="dijon-metropole")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.people[0], args.territory, args.seed)))
        return
    print(f"{'people':>9} {'partner rows':>13} {'observations':>13} {'seconds':>8} {'peak MB':>8}")
    for n in args.people:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--people", str(n),
             "--territory", args.territory, "--seed", str(args.seed)],
            capture_output=True, text=True, check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['people']:>9,} {r['partner_rows']:>13,} {r['observations']:>13,} "
              f"{r['seconds']:>8} {r['peak_rss_mb']:>8,}")


if __name__ == "__main__":
    main()
