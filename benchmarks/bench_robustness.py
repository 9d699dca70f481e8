"""Robustness of the linkage on populations it was never tuned on (issue 12).

Each scenario family of `observatoire.synthetic.stress` (designed apart from the project's
own generator) is drawn at each size with each seed of the chosen split, written as
``records.csv`` / ``verite.csv`` (what ``observatoire sample stress`` writes), and linked
exactly as ``observatoire link records.csv --output persons.csv`` does: `read_records`, then
`link` with the command's default `LinkageSettings`. Each (scenario, size, seed, method)
runs in its own process so that its peak memory is its own. Run from a fresh clone
(``pip install -e '.[bench]'``)::

    python benchmarks/bench_robustness.py                       # report split, 2,000 and 20,000
    python benchmarks/bench_robustness.py --split tune --sizes 2000 --engine-only
    python benchmarks/bench_robustness.py --sizes 2000 --seeds 3 --methods observatoire \
        "splink (domain)" --csv robustness.csv

Seed split: ``--split tune`` draws seeds 0-4 of the families named for tuning
(`TUNING_SCENARIOS`); ``--split report`` (default) draws seeds 100-109 of every family,
including those kept for reporting (`REPORT_ONLY_SCENARIOS`). Settings may be chosen on the
tune split only; the figures to publish come from the report split. ``--seeds N`` keeps the
split's first N seeds.

Per scenario and size, over the seeds (mean and min-max): pairwise precision, recall and
F1, B-cubed F1, the largest person found and the largest true person (records), the
estimate of distinct people (``result.estimate.people``) and its error against the truth in
%, whether the truth lies in ``[low, high]`` and the coverage of that interval over the
seeds, the review queue (``result.review_queue(settings.review_band)``, as the command
writes with ``--review``) in % of the records, seconds (reading the file and linking) and
peak memory. Methods: this engine (``observatoire``) and the Splink set-up with the
engine's domain comparisons (``splink (domain)``, see ``bench_linkage.py``); Splink has no
interval or review queue of the same kind: those cells stay empty.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_linkage import _peak_mb, _watch, run_splink_domain  # noqa: E402

from observatoire.synthetic import stress  # noqa: E402
from observatoire.synthetic.stress import (  # noqa: E402
    REPORT_ONLY_SCENARIOS,
    SCENARIOS,
    TUNING_SCENARIOS,
    generate_stress,
    stress_scenario,
    write_stress,
)

CACHE = Path(__file__).resolve().parent / ".cache" / "stress"
SPLITS = {
    "tune": {"seeds": tuple(range(0, 5)), "scenarios": TUNING_SCENARIOS},
    "report": {"seeds": tuple(range(100, 110)), "scenarios": tuple(SCENARIOS)},
}
METHOD_NAMES = ("observatoire", "splink (domain)")


def data_dir(scenario: str, people: int, seed: int) -> Path:
    """The folder of one draw, generated once (``records.csv``, ``verite.csv``); named
    after the generator's source too, so a changed generator never reuses old draws."""
    version = hashlib.sha256(Path(stress.__file__).read_bytes()).hexdigest()[:10]
    folder = CACHE / f"{scenario}-{people}-{seed}-{version}"
    if not (folder / "verite.csv").exists():
        sample = generate_stress(stress_scenario(scenario, people=people, seed=seed))
        write_stress(sample, folder)
    return folder


def run_engine(folder: Path) -> dict:
    from observatoire.linkage.engine import LinkageSettings, link
    from observatoire.linkage.records import read_records

    start = time.perf_counter()
    records = read_records(folder / "records.csv")
    settings = LinkageSettings(threshold=0.5)  # `observatoire link`'s default --threshold
    result = link(records, settings)
    seconds = time.perf_counter() - start
    review = result.review_queue(settings.review_band)
    e = result.estimate
    labels = pd.Series(result.clusters["person_id"].to_numpy(),
                       index=result.clusters["record_id"].to_numpy())
    return {"labels": labels, "seconds": seconds, "estimate": e.people, "low": e.low,
            "high": e.high, "review_pairs": len(review), "records": e.records}


def run_splink(folder: Path) -> dict:
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)  # untrained-level warnings by the page
    records = pd.read_csv(folder / "records.csv", dtype=str, keep_default_na=False)
    labels, seconds = run_splink_domain(records, {})
    labels = pd.Series(labels, index=records["record_id"].to_numpy())
    return {"labels": labels, "seconds": seconds, "estimate": labels.nunique(), "low": None,
            "high": None, "review_pairs": None, "records": len(records)}


METHODS = {"observatoire": run_engine, "splink (domain)": run_splink}


def _child(folder: str, method: str, queue) -> None:  # noqa: ANN001
    try:
        from observatoire.linkage.evaluate import score

        out = METHODS[method](Path(folder))
        truth = pd.read_csv(Path(folder) / "verite.csv", dtype=str)
        labels = out.pop("labels").reindex(truth["record_id"]).to_numpy()
        scores = score(labels, truth["person_id"])
        people = truth["person_id"].nunique()
        found_sizes = pd.Series(labels).value_counts()
        low, high = out["low"], out["high"]
        queue.put({
            **out,
            "precision": scores.precision, "recall": scores.recall, "f1": scores.f1,
            "bcubed_f1": scores.bcubed_f1, "people_true": people,
            "persons": scores.people_found,
            "largest_found": int(found_sizes.max()),
            "largest_true": int(truth["person_id"].value_counts().max()),
            "error_pct": 100.0 * (out["estimate"] - people) / people,
            "inside": None if low is None else bool(low <= people <= high),
            "review_pct": (None if out["review_pairs"] is None
                           else 100.0 * out["review_pairs"] / out["records"]),
            "peak_mb": _peak_mb(),
        })
    except Exception as exc:  # noqa: BLE001 - reported in the table
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def _run(folder: Path, method: str, timeout: float, max_mb: float) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(str(folder), method, queue))
    process.start()
    outcome = _watch(process, timeout, max_mb)
    if outcome:
        process.kill()
        process.join()
        return {"error": outcome}
    return queue.get() if not queue.empty() else {"error": "crashed"}


def _spread(values: pd.Series, fmt: str) -> str:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "-"
    if len(values) == 1 or values.min() == values.max():
        return format(values.mean(), fmt)
    return (f"{format(values.mean(), fmt)} [{format(values.min(), fmt)}, "
            f"{format(values.max(), fmt)}]")


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per scenario, size and method: mean [min, max] over the seeds."""
    lines = []
    ok = rows[rows["error"].isna()] if "error" in rows else rows
    for (scenario, people, method), group in ok.groupby(["scenario", "people", "method"],
                                                       sort=False):
        inside = group["inside"].dropna()
        lines.append({
            "scenario": scenario, "people": people, "method": method, "seeds": len(group),
            "records": _spread(group["records"], ".0f"),
            "P": _spread(group["precision"], ".3f"), "R": _spread(group["recall"], ".3f"),
            "F1": _spread(group["f1"], ".3f"), "B3 F1": _spread(group["bcubed_f1"], ".3f"),
            "largest found/true": f"{_spread(group['largest_found'], '.0f')} / "
                                  f"{_spread(group['largest_true'], '.0f')}",
            "estimate": _spread(group["estimate"], ".0f"),
            "error %": _spread(group["error_pct"], "+.1f"),
            "in [low, high]": (f"{int(inside.sum())}/{len(inside)}" if len(inside) else "-"),
            "review %": _spread(group["review_pct"], ".1f"),
            "s": _spread(group["seconds"], ".1f"), "MB": _spread(group["peak_mb"], ".0f"),
        })
    return pd.DataFrame(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=tuple(SPLITS), default="report",
                        help="tune: seeds 0-4, tuning families; report: seeds 100-109, all")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000],
                        help="people per draw (default 2000 20000; 200000 is supported)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="keep the split's first N seeds (default: all of them)")
    parser.add_argument("--scenarios", nargs="+", default=None,
                        help="only these families (default: the split's)")
    parser.add_argument("--methods", nargs="+", default=list(METHOD_NAMES),
                        choices=METHOD_NAMES)
    parser.add_argument("--engine-only", action="store_true", help="skip the references")
    parser.add_argument("--csv", help="also write one row per run to this CSV file")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--max-memory-gb", type=float, default=12.0)
    args = parser.parse_args(argv)
    split = SPLITS[args.split]
    seeds = split["seeds"][: args.seeds] if args.seeds else split["seeds"]
    scenarios = args.scenarios or split["scenarios"]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    if args.split == "tune" and set(scenarios) & set(REPORT_ONLY_SCENARIOS):
        parser.error(f"{sorted(set(scenarios) & set(REPORT_ONLY_SCENARIOS))} are kept for "
                     "the report split")
    methods = ["observatoire"] if args.engine_only else args.methods
    print(f"split {args.split}: seeds {', '.join(map(str, seeds))}; scenarios "
          f"{', '.join(scenarios)}; sizes {', '.join(map(str, args.sizes))}; methods "
          f"{', '.join(methods)}")
    print(f"settings may be chosen on split tune only (seeds {SPLITS['tune']['seeds'][0]}-"
          f"{SPLITS['tune']['seeds'][-1]}, families {', '.join(TUNING_SCENARIOS)}); "
          f"reserved for reporting: {', '.join(REPORT_ONLY_SCENARIOS)}", flush=True)
    rows = []
    for people in args.sizes:
        for scenario in scenarios:
            for seed in seeds:
                folder = data_dir(scenario, people, seed)
                for method in methods:
                    row = {"scenario": scenario, "people": people, "seed": seed,
                           "method": method, "error": None,
                           **_run(folder, method, args.timeout, args.max_memory_gb * 1024)}
                    rows.append(row)
                    print(_format(row), flush=True)
            _print_block(pd.DataFrame(rows), scenario, people)
    frame = pd.DataFrame(rows)
    print("\nAll runs, mean [min, max] over seeds:")
    print(summarise(frame).to_string(index=False))
    if args.csv:
        frame.to_csv(args.csv, index=False)
        print(f"rows written to {args.csv}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


def _print_block(frame: pd.DataFrame, scenario: str, people: int) -> None:
    part = frame[(frame["scenario"] == scenario) & (frame["people"] == people)]
    print(f"\n== {scenario}, {people} people ==")
    print(summarise(part).drop(columns=["scenario", "people"]).to_string(index=False))
    print(flush=True)


def _format(row: dict) -> str:
    head = f"{row['scenario']:<16} {row['people']:>7} seed {row['seed']:>3} {row['method']:<16}"
    if row.get("error"):
        return f"{head} ERROR {row['error']}"
    interval = ("" if row["low"] is None else
                f" [{row['low']}, {row['high']}] {'in' if row['inside'] else 'OUT'}")
    review = "" if row["review_pct"] is None else f" review {row['review_pct']:.1f}%"
    return (f"{head} n={row['records']} P={row['precision']:.3f} R={row['recall']:.3f} "
            f"F1={row['f1']:.3f} B3F1={row['bcubed_f1']:.3f} largest "
            f"{row['largest_found']}/{row['largest_true']} estimate {row['estimate']:.0f} "
            f"for {row['people_true']} ({row['error_pct']:+.1f}%){interval}{review} "
            f"t={row['seconds']:.1f}s peak={row['peak_mb']:.0f}MB")


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
