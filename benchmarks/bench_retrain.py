"""Retraining on reviewed pairs: persons, estimate and pair scores with and without it.

On the project's sample (seed 2026), clear text and the encodings an import stores (the
path of `observatoire link --stored`), the first ``--matches`` true matches and
``--non-matches`` non-matches among the uncertain pairs (0.05-0.95) are answered truly,
as a reviewer meets them; the run with the answers but no retraining is the reference::

    python benchmarks/bench_retrain.py                      # 40 and 60 answers
    python benchmarks/bench_retrain.py --matches 200 --non-matches 300
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=40)
    parser.add_argument("--non-matches", type=int, default=60)
    args = parser.parse_args(argv)

    from bench_linkage import KEY, load

    from observatoire.linkage.engine import LinkageSettings, link, link_features
    from observatoire.linkage.evaluate import score
    from observatoire.linkage.records import validate_records
    from observatoire.linkage.stored import features_as_stored

    records, _ = load("sample")
    valid = validate_records(records)
    person = records["person_id"].astype(str).to_numpy()
    truth_of = dict(zip(valid["record_id"].astype(str), person, strict=True))
    settings, without = LinkageSettings(), LinkageSettings(min_reviewed=10**9)
    for path in ("clear", "stored"):
        def run(s: LinkageSettings, d: pd.DataFrame | None = None, path: str = path):
            if path == "clear":
                return link(valid, s, decisions=d)
            return link_features(features_as_stored(valid, KEY), s, d)

        base = run(settings)
        band = base.pairs(0.05, 0.95)
        same = band["record_id_a"].map(truth_of) == band["record_id_b"].map(truth_of)
        band = pd.concat([band[same].iloc[: args.matches], band[~same].iloc[: args.non_matches]])
        same = band["record_id_a"].map(truth_of) == band["record_id_b"].map(truth_of)
        decisions = pd.DataFrame({"record_id_a": band["record_id_a"],
                                  "record_id_b": band["record_id_b"],
                                  "decision": np.where(same, "match", "non_match")})
        runs = (("no answer", base), ("answers, no retraining", run(without, decisions)),
                ("answers, retrained", run(settings, decisions)))
        for name, result in runs:
            c = result.clusters
            s = score(c["person_id"].to_numpy(), person)
            e = result.estimate
            print(f"{path:6s} {name:24s} persons {c['person_id'].nunique():6d}  estimate "
                  f"{e.people} [{e.low}, {e.high}] for {len(set(person))}  "
                  f"pair P {s.precision:.4f} R {s.recall:.4f} F1 {s.f1:.4f}  "
                  f"retrained {result.retrained}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
