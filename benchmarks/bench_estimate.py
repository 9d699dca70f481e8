"""The estimate of distinct people and its 90 % interval against the truth, over seeds.

Tune the calibration (`observatoire.linkage.estimate.Calibration`) on the project's
generator with seeds 0-4 only, then report on other seeds and on other generators::

    python benchmarks/bench_estimate.py --tune                       # seeds 0-4: factors
    python benchmarks/bench_estimate.py --tune --generator sample namesakes sparse \
        --people 1000 2000
    python benchmarks/bench_estimate.py --seeds 100-109 --people 1000 none
    python benchmarks/bench_estimate.py --generator namesakes --seeds 100-109 --people 2000

``--people none`` is the generator's default territory (about 1,800 people, 17,500
records). ``--generator namesakes`` (or another scenario of `observatoire.synthetic.stress`,
an independently designed population with frequent namesakes) reports on it. Prints, per run, the
truth, the persons found, the estimate, its interval and whether it covers the truth, the
review queue; then the mean and spread of the error and the coverage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np
import pandas as pd

from observatoire.synthetic.stress import SCENARIOS

TUNING_SEEDS = range(5)


def population(generator: str, seed: int, people: int | None) -> pd.DataFrame:
    """Records (interchange columns) with the truth in ``person_id``."""
    if generator == "sample":
        from observatoire.linkage.sample import build_sample_records

        return build_sample_records(seed=seed, n_people=people)
    from observatoire.synthetic.stress import generate_stress, stress_scenario

    sample = generate_stress(stress_scenario(generator, people=people or 2000, seed=seed))
    truth = sample.truth.set_index("record_id")["person_id"]
    return sample.records.assign(person_id=sample.records["record_id"].map(truth).to_numpy())


def run(generator: str, seed: int, people: int | None):
    from observatoire.linkage.engine import link
    from observatoire.linkage.records import validate_records

    records = population(generator, seed, people)
    truth = pd.factorize(records["person_id"])[0]
    start = time.perf_counter()
    result = link(validate_records(records.drop(columns=["person_id"])))
    return result, truth, time.perf_counter() - start


def _row(result, truth: np.ndarray, seconds: float, seed: int, people) -> dict:
    e = result.estimate
    true = int(truth.max() + 1)
    return {"seed": seed, "people": people, "records": e.records, "truth": true,
            "persons": e.clusters, "estimate": e.people, "low": e.low, "high": e.high,
            "error": round((e.people - true) / true, 4), "covered": e.low <= true <= e.high,
            "review_pairs": len(result.review_queue()), "seconds": round(seconds, 1)}


def _summary(rows: list[dict]) -> dict:
    errors = np.array([r["error"] for r in rows])
    return {"runs": len(rows), "mean_error": round(float(errors.mean()), 4),
            "sd_error": round(float(errors.std(ddof=1)), 4) if len(rows) > 1 else None,
            "max_abs_error": round(float(np.abs(errors).max()), 4),
            "coverage": round(float(np.mean([r["covered"] for r in rows])), 3),
            "mean_width": round(float(np.mean([(r["high"] - r["low"]) / r["truth"]
                                               for r in rows])), 3),
            "review_share": round(float(np.mean([r["review_pairs"] / r["records"]
                                                 for r in rows])), 4)}  # fmt: skip


def _solve(target: float, f, low: float = 1e-3, high: float = 1e3, steps: int = 40) -> float:
    """``x`` in [low, high] (log scale) with ``f(x) = target``, ``f`` increasing."""
    for _ in range(steps):
        mid = float(np.sqrt(low * high))
        if f(mid) < target:
            low = mid
        else:
            high = mid
    return float(np.sqrt(low * high))


def tune(generators: list[str], sizes: list[int | None]) -> None:
    from observatoire.linkage import estimate as est

    runs = []
    for generator in generators:
        for people in sizes:
            for seed in TUNING_SEEDS:
                result, truth, _ = run(generator, seed, people)
                runs.append((result, truth))
                print(f"lié : {generator}, graine {seed}, {people or 'défaut'} personnes",
                      file=sys.stderr)  # fmt: skip
    # Merges and keeps: the share of true matches among the pairs each kind draws.
    merge_p, merge_true, keep_p, keep_true = [], [], [], []
    for result, truth in runs:
        u = result.estimate.sources
        p = result.probability
        merge_p.append(p[u.merge_pairs])
        merge_true.append(truth[result.i[u.merge_pairs]] == truth[result.j[u.merge_pairs]])
        ok = u.split_pairs >= 0
        keep_p.append(p[u.split_pairs[ok]])
        keep_true.append(truth[result.i[u.split_pairs[ok]]] == truth[result.j[u.split_pairs[ok]]])
    merge_p, merge_true = np.concatenate(merge_p), np.concatenate(merge_true)
    keep_p, keep_true = np.concatenate(keep_p), np.concatenate(keep_true)
    merge = _solve(merge_true.sum(), lambda x: est._scaled(merge_p, x).sum())
    keep = _solve(keep_true.sum(), lambda x: est._scaled(keep_p, x).sum())

    def estimates(known: float, model_error: float = 0.0) -> list[est.PeopleEstimate]:
        calibration = est.Calibration(merge, keep, known, model_error)
        return [_reestimate(result, calibration, 50) for result, _ in runs]

    truths = np.array([t.max() + 1 for _, t in runs])
    # The estimate falls as "known" gets likelier: solve for no mean relative error.
    known = _solve(0.0, lambda x: -float(np.mean(
        [(e.people - t) / t for e, t in zip(estimates(x), truths, strict=True)])),
        0.1, 1000.0, 16)
    errors = np.array([(e.people - t) / t for e, t in zip(estimates(known), truths,
                                                          strict=True)])  # fmt: skip
    model_error = float(np.sqrt(np.mean(errors**2)))
    print(json.dumps({"merge_odds": round(merge, 4), "keep_odds": round(keep, 4),
                      "known_odds": round(known, 4), "model_error": round(model_error, 4),
                      "tuning_errors": [round(float(x), 4) for x in errors]}))  # fmt: skip


def _reestimate(result, calibration, draws: int = 200):
    """The estimate of a linkage result again under another calibration."""
    from observatoire.linkage import estimate as est
    from observatoire.linkage.engine import LinkageSettings, _name_checked

    labels = pd.factorize(result.clusters["person_id"])[0]
    f = result.features
    return est.estimate_people(
        labels, result.i, result.j, result.probability, LinkageSettings().review_band,
        anchor=f.has_names, name_checked=_name_checked(f, result.i, result.j, result.gamma),
        source=f.source, calibration=calibration, draws=draws,
    )  # fmt: skip


def _seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true", help="seeds 0-4: print the factors")
    parser.add_argument("--generator", nargs="+", default=["sample"],
                        help="sample (the project's generator) or stress scenarios: "
                        + ", ".join(SCENARIOS))
    parser.add_argument("--seeds", default="100-109")
    parser.add_argument("--people", nargs="+", default=["1000", "none"])
    args = parser.parse_args(argv)
    sizes = [None if p == "none" else int(p) for p in args.people]
    if args.tune:
        tune(args.generator, sizes)
        return 0
    for generator in args.generator:
        for people in sizes:
            rows = []
            for seed in _seeds(args.seeds):
                if seed in TUNING_SEEDS:
                    print(f"graine {seed} : réservée au réglage, ignorée", file=sys.stderr)
                    continue
                result, truth, seconds = run(generator, seed, people)
                rows.append(_row(result, truth, seconds, seed, people))
                print(json.dumps({"generator": generator, **rows[-1]}), flush=True)
            print(json.dumps({"generator": generator, "people": people,
                              "calibration": dataclasses.asdict(_calibration()),
                              **_summary(rows)}), flush=True)  # fmt: skip
    return 0


def _calibration():
    from observatoire.linkage.estimate import CALIBRATION

    return CALIBRATION


if __name__ == "__main__":
    raise SystemExit(main())
