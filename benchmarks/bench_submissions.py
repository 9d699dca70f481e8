"""Submission latency under load: N questionnaires from C parallel clients, 10 % retries.

    python benchmarks/bench_submissions.py                       # SQLite in a temp folder
    python benchmarks/bench_submissions.py --database-url postgresql://postgres@127.0.0.1/x

Prints p50/p95/p99 latency of `observatoire.countnight.entry.submit` and the throughput. The
PostgreSQL database must exist and be empty.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_survey_factories import interview, make_night  # noqa: E402

from observatoire.config import normalise_database_url  # noqa: E402
from observatoire.countnight import entry  # noqa: E402
from observatoire.store.db import make_engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--retries", type=float, default=0.10)
    args = parser.parse_args()
    url = normalise_database_url(
        args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    )
    engine = make_engine(url)
    night = make_night(engine)
    rng = random.Random(2026)
    submissions = [interview(night.teams[i % len(night.teams)]) for i in range(args.submissions)]
    calls = submissions + rng.sample(submissions, int(args.retries * args.submissions))
    rng.shuffle(calls)
    contexts = {code: entry.join_team(engine, code) for code in night.teams}

    def send(submission):
        start = time.perf_counter()
        entry.submit(engine, submission, context=contexts[submission.team_code])
        return time.perf_counter() - start

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        latencies = sorted(pool.map(send, calls))
    elapsed = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100)
    print(f"{engine.dialect.name}: {len(calls)} envois ({args.submissions} fiches, "
          f"{len(calls) - args.submissions} renvois), {args.clients} clients")
    print(f"latence p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, "
          f"p99 {q[98] * 1000:.1f} ms ; débit {len(calls) / elapsed:.0f} envois/s")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
