"""The estimate of distinct people and its 90 % interval against the truth, over seeds.

Tune the calibration (`observatoire.linkage.estimate.Calibration`: one logistic model per
kind of unit, duplicate persons, new groups of satellites, stray records) on tuning seeds
0-4 only, then report on seeds 100+ and on families never tuned on::

    python benchmarks/bench_estimate.py --tune --generator namesakes@2000 sparse@2000 \
        clean@2000 namesakes@20000@0-1 sparse@20000@0 clean@20000@0 sample@none
    python benchmarks/bench_estimate.py --seeds 100-109 --people 1000 none
    python benchmarks/bench_estimate.py --generator namesakes sparse clean large_families \
        french_names dense_namesakes --seeds 100-109 --people 2000
    python benchmarks/bench_estimate.py --generator namesakes@20000@100-104

``--generator`` takes ``sample`` (the project's generator) or a scenario of
`observatoire.synthetic.stress` (an independently designed population with frequent
namesakes), each at every ``--people`` size, or ``name@size`` (one size; ``none`` is the
generator's default territory, about 1,800 people and 17,500 records) or
``name@size@seeds`` (its own seeds). ``--tune`` links every tuning population, fits the
models on them all (each (generator, size) weighing the same) and prints them with the
errors on the tuning populations and the held-out errors (each (generator, size)
predicted by the models fitted without it), whose root mean square is the model error.
Otherwise prints, per run, the truth, the persons found, the estimate, its interval and
whether it covers the truth, the review queue; then the mean and spread of the error and
the coverage.
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


def majority(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per cluster label, the true person most of its records belong to."""
    counts = (pd.DataFrame({"c": labels, "t": truth}).groupby(["c", "t"]).size()
              .reset_index(name="k").sort_values(["c", "k", "t"],
                                                 ascending=[True, False, True]))  # fmt: skip
    return counts.drop_duplicates("c").set_index("c")["t"].reindex(
        range(int(labels.max()) + 1)).to_numpy()


def _first(key: np.ndarray, *ties: np.ndarray) -> np.ndarray:
    """Whether each element is the first of its ``key`` (ties broken by ``ties``)."""
    order = np.lexsort((*ties[::-1], key))
    out = np.zeros(len(key), dtype=bool)
    out[order] = np.r_[True, key[order][1:] != key[order][:-1]] if len(key) else []
    return out


def unit_targets(units, labels: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, ...]:
    """What each unit of the estimate truly is, so that the truth is exactly
    ``persons - duplicates + new + strays``: each true person is counted by the largest
    person (built on full names) it is the majority of, else by the largest group of
    satellites it is the majority of, else by one of its records (a stray)."""
    maj = majority(labels, truth)
    size = np.bincount(labels)
    p, g, r = units.persons, units.groups, units.records
    duplicate = ~_first(maj[p], -size[p], p)
    new = _first(maj[g], -size[g], g) & ~np.isin(maj[g], maj[p])
    stray = _first(truth[r], r) & (truth[r] != maj[labels[r]]) & ~np.isin(truth[r], maj)
    return duplicate, new, stray


def _fit(parts: list, groups: list[str]) -> list:
    """One logistic model per kind of unit, on the pooled tuning units; each (generator,
    size) weighs the same whatever its number of units (20,000 people would else decide
    alone)."""
    from sklearn.linear_model import LogisticRegression

    from observatoire.linkage.estimate import UnitModel

    models = []
    for k in range(3):
        x = np.vstack([part[k][0] for part in parts])
        y = np.concatenate([part[k][1] for part in parts])
        units = {g: sum(len(q[k][1]) for q, h in zip(parts, groups, strict=True) if h == g)
                 for g in set(groups)}
        w = np.concatenate([np.full(len(q[k][1]), 1.0 / max(units[g], 1))
                            for q, g in zip(parts, groups, strict=True)])
        fitted = LogisticRegression(C=1.0, max_iter=5000).fit(x, y, sample_weight=w * len(w)
                                                              / w.sum())
        models.append(UnitModel(round(float(fitted.intercept_[0]), 4),
                                tuple(round(float(c), 4) for c in fitted.coef_[0])))
    return models


def _predicted(models: list, part) -> float:
    persons = len(part[0][0])
    return (persons - models[0].probability(part[0][0]).sum()
            + models[1].probability(part[1][0]).sum() + models[2].probability(part[2][0]).sum())


def _specs(generators: list[str], sizes: list[int | None],
           seeds: list[int]) -> list[tuple[str, int | None, list[int]]]:  # fmt: skip
    """(generator, people, seeds) per run group: ``name`` takes every size and seed,
    ``name@size`` one size (``none``: the default) and ``name@size@0-1`` its own seeds."""
    out = []
    for spec in generators:
        name, *rest = spec.split("@")
        own = [None if rest[0] == "none" else int(rest[0])] if rest else sizes
        out.extend((name, people, _seeds(rest[1]) if len(rest) > 1 else seeds)
                   for people in own)
    return out


def tune(generators: list[str], sizes: list[int | None], seeds: list[int]) -> None:
    """Fit the unit models on tuning seeds and measure the model error held out: each
    (generator, size) predicted by the models fitted on the others."""
    from observatoire.linkage.engine import _name_checked
    from observatoire.linkage.estimate import unit_features

    parts, groups, truths = [], [], []
    for generator, people, chosen in _specs(generators, sizes, seeds):
        if set(chosen) - set(TUNING_SEEDS):
            raise SystemExit("le réglage ne prend que les graines 0-4")
        for seed in chosen:
            result, truth, _ = run(generator, seed, people)
            labels = pd.factorize(result.clusters["person_id"])[0]
            f = result.features
            units = unit_features(labels, result.i, result.j, result.probability,
                                  f.has_names, None,
                                  _name_checked(f, result.i, result.j, result.gamma))
            y = unit_targets(units, labels, truth)
            parts.append(((units.person_x, y[0]), (units.group_x, y[1]),
                          (units.record_x, y[2])))
            groups.append(f"{generator}-{people or 'défaut'}")
            truths.append(int(truth.max() + 1))
            print(f"lié : {generator}, graine {seed}, {people or 'défaut'} personnes, "
                  f"{len(units.persons)} personnes, {int(y[0].sum())} doublons, "
                  f"{int(y[1].sum())} nouveaux parmi {len(units.groups)} groupes, "
                  f"{int(y[2].sum())} égarés", file=sys.stderr)  # fmt: skip
    models = _fit(parts, groups)
    truths = np.array(truths)
    groups = np.array(groups)
    inside = np.array([_predicted(models, q) for q in parts]) / truths - 1
    held_out = np.zeros(len(parts))
    for g in np.unique(groups) if len(np.unique(groups)) > 1 else []:
        others = _fit([q for q, h in zip(parts, groups, strict=True) if h != g],
                      [h for h in groups if h != g])
        for k in np.flatnonzero(groups == g):
            held_out[k] = _predicted(others, parts[k]) / truths[k] - 1
    print(json.dumps({
        "duplicate": dataclasses.asdict(models[0]), "new": dataclasses.asdict(models[1]),
        "stray": dataclasses.asdict(models[2]),
        "model_error": round(float(np.sqrt(np.mean(held_out**2))), 4),
        "errors": {g: [round(float(x), 4) for x in inside[groups == g]]
                   for g in np.unique(groups)},
        "held_out_errors": {g: [round(float(x), 4) for x in held_out[groups == g]]
                            for g in np.unique(groups)},
    }))


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
        tune(args.generator, sizes, list(TUNING_SEEDS))
        return 0
    for generator, people, seeds in _specs(args.generator, sizes, _seeds(args.seeds)):
        rows = []
        for seed in seeds:
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
