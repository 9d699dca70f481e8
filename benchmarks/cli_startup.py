"""How long `observatoire --help` takes (the imports done at start-up), and what it imports.

    nice -n 10 .venv/bin/python benchmarks/cli_startup.py [--runs 5]

Prints the median and worst wall time of ``observatoire --help`` over the runs (a fresh
interpreter each time) and the five slowest imports of ``python -X importtime``. A figure,
not a test: the machine's load changes it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    command = [sys.executable, "-m", "observatoire.cli", "--help"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    print(f"observatoire --help : médiane {statistics.median(times):.2f} s, "
          f"pire {max(times):.2f} s sur {runs} lancements")
    profile = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import observatoire.cli as c; c.build_parser()"],
        capture_output=True, text=True, check=True,
    ).stderr.splitlines()
    rows = []
    for line in profile:
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].strip()))
    top = [r for r in sorted(rows, reverse=True) if not r[1].startswith(" ")][:5]
    print("importations les plus lentes (cumulé) :")
    for micros, name in top:
        print(f"  {micros / 1e6:6.2f} s  {name}")


if __name__ == "__main__":
    main()
