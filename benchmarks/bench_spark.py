"""The linkage on the local engine and on Spark (`observatoire link --engine spark`), side by
side on one synthetic population::

    python benchmarks/bench_spark.py --people 12500            # about 100,000 records
    python benchmarks/bench_spark.py --people 2000 --master local[2] --partitions 8

Each engine runs in its own process (spawned), so that its peak memory is its own. Prints
per engine: wall time of the linkage (not generating or reading the records), CPU time of
the whole process tree, the peak resident memory of the linking process (the Spark driver's
Python), the peak of its whole process tree sampled every 0.2 s (with Spark: the JVM, its
Python workers and the driver), the persons, the estimate and its interval, the pairs, the
engine's own laps, and whether both engines wrote the same persons; then the load.
Spark runs with ``spark.driver.memory`` 2g (`spark.DEFAULT_CONF`) unless
``--driver-memory`` says otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import resource
import threading
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def _cached(people: int, seed: int) -> Path:
    return CACHE / f"spark_people_{people}_seed_{seed}.parquet"


def records_for(people: int, seed: int):  # noqa: ANN201
    """The generator's records for ``people`` people, cached as Parquet."""
    import pandas as pd

    from observatoire.linkage.records import validate_records
    from observatoire.linkage.sample import build_sample_records

    path = _cached(people, seed)
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        build_sample_records(n_people=people, seed=seed).to_parquet(path)
    return validate_records(pd.read_parquet(path))


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _tree_figures(pid: int) -> tuple[float, float]:
    """Resident MB and CPU seconds of ``pid``'s process tree."""
    rss, cpu = 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as statm:
                rss += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            with open(f"/proc/{p}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
                cpu += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return rss, cpu


def _child(engine: str, people: int, seed: int, master: str, partitions: int | None,
           conf: dict[str, str], queue) -> None:  # noqa: ANN001
    from observatoire.linkage.engine import link, score_candidates

    records = records_for(people, seed)
    score_with = score_candidates
    if engine == "spark":
        from observatoire.linkage.spark import SparkScorer, spark_session

        spark_session(master, conf)  # the JVM's start is not the linkage's time
        score_with = SparkScorer(master, partitions, conf)
    watched: dict[str, float] = {"peak": 0.0, "cpu": 0.0}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            rss, cpu = _tree_figures(os.getpid())
            watched["peak"] = max(watched["peak"], rss)
            watched["cpu"] = max(watched["cpu"], cpu)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    _, cpu_start = _tree_figures(os.getpid())
    start = time.perf_counter()
    result = link(records, score_with=score_with)
    wall = time.perf_counter() - start
    _, cpu_end = _tree_figures(os.getpid())
    done.set()
    e = result.estimate
    queue.put({
        "engine": engine, "records": len(records), "pairs": len(result.i), "wall_s": wall,
        "cpu_s": cpu_end - cpu_start,
        "linking_process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "process_tree_peak_mb": watched["peak"], "persons": e.clusters, "people": e.people,
        "interval": (e.low, e.high), "laps": {k: round(v, 1) for k, v in result.seconds.items()},
        "persons_digest": hashlib.sha256(result.clusters.to_csv(index=False).encode())
        .hexdigest()[:16],
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=12_500,
                        help="people generated (12,500: about 100,000 records)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--driver-memory", default=None,
                        help="spark.driver.memory (2g by default, `spark.DEFAULT_CONF`)")
    parser.add_argument("--engines", nargs="+", default=["local", "spark"],
                        choices=["local", "spark"])
    args = parser.parse_args(argv)
    if not _cached(args.people, args.seed).exists():
        # Generated once, outside the measured runs, in a process of its own: this one
        # stays small beside the engines it starts.
        generate = mp.get_context("spawn").Process(target=records_for,
                                                   args=(args.people, args.seed))
        generate.start()
        generate.join()
    conf = {"spark.driver.memory": args.driver_memory} if args.driver_memory else {}
    context = mp.get_context("spawn")
    rows = []
    for engine in args.engines:
        queue = context.Queue()
        process = context.Process(target=_child, args=(engine, args.people, args.seed,
                                                       args.master, args.partitions, conf,
                                                       queue))
        process.start()
        row = queue.get()
        process.join()
        rows.append(row)
        print(f"{row['engine']:5} records={row['records']} pairs={row['pairs']} "
              f"wall={row['wall_s']:.1f}s cpu={row['cpu_s']:.1f}s "
              f"peak_linking_process={row['linking_process_peak_mb']:.0f}MB "
              f"peak_process_tree={row['process_tree_peak_mb']:.0f}MB "
              f"persons={row['persons']} people={row['people']} "
              f"interval={row['interval']} laps={row['laps']} "
              f"digest={row['persons_digest']}", flush=True)
    answers = {(row["persons_digest"], row["people"], tuple(row["interval"])) for row in rows}
    if len(answers) == 1 and len(rows) > 1:
        print("same persons and estimate on both engines")
    elif len(rows) > 1:
        print("DIFFERENT persons between the engines")
    print(f"load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
