"""Peak memory and time per step of one linkage, with its scores and estimate (issue 12).

    nice -n 10 python benchmarks/profile_link_memory.py 100k --max-block 100
    nice -n 10 python benchmarks/profile_link_memory.py million --max-block 100

Data sets of `bench_linkage.py` (``100k``, ``300k``, ``million``: cached in
``benchmarks/.cache/``, generated on first use). The engine's steps are wrapped where
`link_features` looks them up, and a thread samples the resident memory (VmRSS, Linux)
every 20 ms; each step over 0.5 s or 1.5 GB prints its duration and the highest sample
inside it, then one JSON line: pairs, seconds, peak (``LinkResult.peak_mb``), truth,
estimate and interval, pair and B-cubed scores. ``--save`` writes each record's person,
its ``expected_people`` and the pairs' probabilities (``.npz``) to compare two versions
array for array.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

STEPS = {
    "engine": ("candidate_pairs", "compare", "_sessions", "_candidate_u", "_tf_u",
               "_satellite_prior", "_sure_without_birth", "cluster", "confidence",
               "estimate_people", "_attachment", "_name_checked"),
    "cluster": ("_constrained_components", "_greedy_merge", "code_clashes", "within_pairs",
                "_undominated", "satellite_shares", "_contradicts_person"),
}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", choices=("sample", "100k", "200k", "300k", "million"))
    parser.add_argument("--max-block", type=int, default=1000)
    parser.add_argument("--save", type=Path, metavar="NPZ",
                        help="write each record's person and expected_people (compare runs "
                             "array for array)")
    args = parser.parse_args(argv)

    from bench_linkage import load

    from observatoire.linkage import cluster, engine
    from observatoire.linkage.evaluate import score
    from observatoire.linkage.records import validate_records

    records, _ = load(args.data)
    spans: list[tuple[str, float, float]] = []

    def wrap(module, name: str) -> None:
        function = getattr(module, name)

        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                spans.append((name, start, time.perf_counter()))

        setattr(module, name, timed)

    for name in STEPS["engine"]:
        wrap(engine, name)
    for name in STEPS["cluster"]:
        wrap(cluster, name)
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.perf_counter(), _rss_mb()))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    valid = validate_records(records)
    start = time.perf_counter()
    result = engine.link(valid, engine.LinkageSettings(max_block=args.max_block))
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    for name, begin, end in spans:
        peak = max((mb for t, mb in samples if begin <= t <= end), default=0.0)
        if end - begin > 0.5 or peak > 1500:
            print(f"  {name:24s} {end - begin:7.1f} s  peak {peak:7.0f} MB")
    if args.save:
        import numpy as np

        np.savez_compressed(args.save,
                            person_id=result.clusters["person_id"].to_numpy().astype(str),
                            expected_people=result.clusters["expected_people"].to_numpy(),
                            probability=result.probability)
    truth = records["person_id"].to_numpy()
    people = len(set(truth))
    estimate = result.estimate
    scores = score(result.clusters["person_id"].to_numpy(), truth)
    print(json.dumps({
        "data": args.data, "max_block": args.max_block, "records": len(records),
        "pairs": int(len(result.i)), "seconds": round(seconds, 1),
        "peak_mb": round(result.peak_mb), "truth": people, "estimate": estimate.people,
        "interval_90": [estimate.low, estimate.high],
        "error_pct": round(100 * (estimate.people - people) / people, 1),
        "persons": int(result.clusters["person_id"].nunique()),
        **{k: round(v, 4) if isinstance(v, float) else v
           for k, v in scores.as_dict().items()},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
