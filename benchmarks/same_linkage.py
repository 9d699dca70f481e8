"""Whether two versions of the engine give the same linkage, to the last bit (a refactor).

Saves everything a run produces (persons, candidate pairs, comparison matrix,
probabilities, the model's table, the estimate and its draws, the review queue) for each
case, with the code of a given source tree; then compares two such directories::

    git worktree add /tmp/before main          # or `git archive <commit> | tar -x -C ...`
    PYTHONPATH=/tmp/before python benchmarks/same_linkage.py save /tmp/before /tmp/out-before
    python benchmarks/same_linkage.py save . /tmp/out-after
    python benchmarks/same_linkage.py diff /tmp/out-before /tmp/out-after

Cases (``--cases``): ``sample``, ``febrl3``, ``febrl4`` (as `bench_linkage.load`) or
``st:<dir>`` (an ``observatoire sample stress`` output: records.csv and verite.csv), each
optionally ``@key`` (pseudonymised), ``@stored`` (the encodings an import stores) or
``@decisions`` (40 true matches and 60 non-matches of the uncertain pairs answered, so the
model retrains). ``diff`` prints one line per case and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

DEFAULT_CASES = ("sample", "sample@key", "sample@stored", "sample@decisions", "febrl3",
                 "febrl4", "febrl3@key", "febrl4@stored")


def _snapshot(result) -> dict:  # noqa: ANN001
    import pandas as pd

    e = result.estimate
    return {
        "clusters": result.clusters, "i": result.i, "j": result.j, "gamma": result.gamma,
        "probability": result.probability,
        "model_table": pd.DataFrame(result.model.table()), "prior": result.model.prior,
        "estimate": (e.people, e.low, e.high, e.records, e.clusters, e.systematic),
        "expected": e.expected, "draws": e.draws,
        "review": result.review_queue(), "pairs_band": result.pairs(0.2, 0.8),
        "retrained": result.retrained, "blocking": result.blocking,
    }


def save(tree: Path, out: Path, cases: list[str]) -> None:
    sys.path.insert(0, str(tree))
    sys.path.insert(0, str(tree / "benchmarks"))
    import numpy as np
    import pandas as pd

    import observatoire

    if not Path(observatoire.__file__).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"observatoire is imported from {observatoire.__file__}, not {tree}: "
                         f"run with PYTHONPATH={tree}")
    from bench_linkage import KEY, load

    from observatoire.linkage.engine import LinkageSettings, link, link_features
    from observatoire.linkage.records import read_records, validate_records
    from observatoire.linkage.stored import features_as_stored

    out.mkdir(parents=True, exist_ok=True)
    for case in cases:
        base, _, mode = case.partition("@")
        start = time.perf_counter()
        if base.startswith("st:"):
            folder = Path(base[3:])
            valid, options = read_records(folder / "records.csv"), {}
            truth = pd.read_csv(folder / "verite.csv", dtype=str).set_index("record_id")
            person = truth.loc[valid["record_id"].astype(str), "person_id"].to_numpy()
            tag = folder.name
        else:
            records, options = load(base)
            valid = validate_records(records)
            for column in options.get("extras", {}):
                valid[column] = records[column].to_numpy()
            person = records["person_id"].astype(str).to_numpy()
            tag = base
        extras = options.get("extras", {})
        settings = LinkageSettings(
            link_only=options.get("link_only", False), extras=extras,
            extra_blocking=(("soc_sec_id",), ("address_1",)) if extras else (),
        )
        if mode == "key":
            result = link(valid, settings, key=KEY)
        elif mode == "stored":
            features = features_as_stored(valid, KEY)
            features.extras.update({c: valid[c].astype(str).str.strip().str.lower()
                                   .to_numpy(dtype=object) for c in extras})
            result = link_features(features, settings)
        elif mode == "decisions":
            band = link(valid, settings).pairs(0.05, 0.95)
            truth_of = dict(zip(valid["record_id"].astype(str), person, strict=True))
            same = band["record_id_a"].map(truth_of) == band["record_id_b"].map(truth_of)
            band = pd.concat([band[same].iloc[:40], band[~same].iloc[:60]])
            same = band["record_id_a"].map(truth_of) == band["record_id_b"].map(truth_of)
            decisions = pd.DataFrame({"record_id_a": band["record_id_a"],
                                      "record_id_b": band["record_id_b"],
                                      "decision": np.where(same, "match", "non_match")})
            result = link(valid, settings, decisions=decisions)
        else:
            result = link(valid, settings)
        name = f"{tag}-{mode or 'clear'}"
        with open(out / f"{name}.pkl", "wb") as fh:
            pickle.dump(_snapshot(result), fh)
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)


def diff(before: Path, after: Path) -> int:
    import numpy as np
    import pandas as pd

    bad = 0
    for path in sorted(after.glob("*.pkl")):
        with open(before / path.name, "rb") as fa, open(path, "rb") as fb:
            a, b = pickle.load(fa), pickle.load(fb)
        diffs = []
        for key, x in a.items():
            y = b[key]
            if isinstance(x, pd.DataFrame):
                try:
                    pd.testing.assert_frame_equal(x, y, check_exact=True)
                except AssertionError as error:
                    diffs.append(f"{key}: {str(error)[:200]}")
            elif isinstance(x, np.ndarray):
                if (x.shape != y.shape or x.dtype != y.dtype
                        or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f")):
                    diffs.append(f"{key} differs")
            elif x != y:
                diffs.append(f"{key}: {x!r} != {y!r}")
        clusters = a["clusters"]
        print(f"{path.stem:26s} records {len(clusters):7d}  pairs {len(a['i']):9d}  "
              f"persons {clusters['person_id'].nunique():6d}  estimate {a['estimate'][0]:6d} "
              f"[{a['estimate'][1]}, {a['estimate'][2]}]  "
              + ("identical" if not diffs else "DIFFERENT: " + "; ".join(diffs)))
        bad += bool(diffs)
    missing = sorted({p.name for p in before.glob("*.pkl")} - {p.name for p in after.glob("*.pkl")})
    if missing:
        print("not in", after, ":", ", ".join(missing))
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("save")
    s.add_argument("tree", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    d = sub.add_parser("diff")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "save":
        save(args.tree, args.out, args.cases)
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
