"""The linkage engine's blocking, comparisons, training and scoring on Apache Spark.

`SparkScorer` takes the place of `engine.score_candidates` in `engine.link_features`::

    result = link(records, score_with=SparkScorer("local[2]"))

It runs the engine's own numpy kernels inside Spark: the records' features, their term
frequencies and their training-session keys (one value per record, never the pairs) are
broadcast, made once on the driver; each blocking pass is paired block by block (its keys
split into ``partitions`` groups, `_refined_pairs` on each group: a block and its
refinements never cross groups); the pairs are made distinct in one shuffle partitioned by
pair; they are compared in partitions (`compare`, `training_flags`) and only the distinct
comparison vectors of each batch and their counts leave the workers, summed by Spark, to
train the model on the driver (`train_model`: the same EM on the same counts); the pairs
are then compared again and scored in partitions (`score_pairs`). The same pairs, vectors,
model and probabilities as `score_candidates`, hence the same persons and estimate.

Not distributed yet: the driver collects the scored pairs (i, j, vector, probability),
column by column from Arrow, for the engine's clustering and estimate
(`engine.link_features`), and the u of random pairs (`LinkageSettings.u_pairs` pairs, not
the data's size) is computed on the driver.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd

from observatoire.linkage.blocking import (
    BlockingReport,
    _refined_pairs,
    blocking_keys,
    distinct,
    refinements,
)
from observatoire.linkage.compare import Comparison, compare
from observatoire.linkage.engine import (
    LinkageSettings,
    ScoredCandidates,
    score_pairs,
    session_keys,
    stopwatch,
    term_frequencies,
    train_model,
    training_flags,
)
from observatoire.linkage.prepare import Features
from observatoire.model import ObservatoireError

DEFAULT_MASTER = "local[*]"
# Modest by default: the machine (or the edge node) is often shared; raise it with
# ``spark-submit --driver-memory`` or SPARK_CONF for a national run.
DEFAULT_CONF = {
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Pairs per batch handed to the numpy kernels: large enough that the per-call work on
    # the records (session keys, block sizes) stays small beside the pairs'.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "200000",
}


def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None):
    """A Spark session on ``master`` (``local[*]``, ``spark://host:7077``, ``yarn``...),
    with a French error naming what to install when PySpark or Java is missing."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise ObservatoireError(
            "Le moteur Spark demande PySpark, qui n'est pas installé : "
            "pip install -e '.[spark]' (ou pip install 'pyspark>=3.5'), puis relancez."
        ) from error
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise ObservatoireError(
            "Le moteur Spark demande Java (17 ou plus), introuvable : installez-le (par "
            "exemple apt-get install openjdk-17-jre-headless) ou indiquez son dossier dans "
            "JAVA_HOME."
        )
    # The executors' Python is the driver's unless the cluster says otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("observatoire-link")
    for name, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(name, value)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # the JVM's own errors (no master, no memory) are varied
        raise ObservatoireError(
            f"Spark n'a pas pu démarrer sur « {master} » : {error}. Vérifiez --spark-master "
            "(par défaut local[*]) et l'installation de Java."
        ) from error
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _gamma_columns(comparisons: tuple[Comparison, ...]) -> list[str]:
    return [f"gamma_{k}" for k in range(len(comparisons))]


class SparkScorer:
    """`engine.Scorer` on Spark: block, compare, train and score the candidate pairs.

    ``partitions``: groups of blocking keys per pass, and partitions of the pairs (twice
    the cluster's cores by default)."""

    def __init__(self, master: str = DEFAULT_MASTER, partitions: int | None = None,
                 conf: dict[str, str] | None = None) -> None:
        self.master = master
        self.partitions = partitions
        self.conf = conf

    def __call__(
        self, f: Features, settings: LinkageSettings, comparisons: tuple[Comparison, ...]
    ) -> ScoredCandidates:
        spark = spark_session(self.master, self.conf)
        sc = spark.sparkContext
        parts = self.partitions or max(2 * sc.defaultParallelism, 2)
        # Spark's default (200 shuffle partitions) is for clusters; one per part here.
        spark.conf.set("spark.sql.shuffle.partitions", str(parts))
        seconds: dict[str, float] = {}
        lap = stopwatch(seconds)

        # Made once, before broadcasting: every executor reads them for all its pairs.
        rules = blocking_keys(f, settings.extra_blocking)
        shared = sc.broadcast((f, term_frequencies(f, comparisons),
                               session_keys(f, settings, comparisons)))
        n = f.n

        def block(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            # Pair rows (pair >= 0), then one row per task: ``-1 - rule``, the pass's
            # distinct pairs in this group of keys, and the records its blocks skipped.
            features = shared.value[0]
            keys = blocking_keys(features, settings.extra_blocking)
            refine = refinements(features)
            for batch in batches:
                for rule, part in zip(batch["rule"], batch["part"], strict=True):
                    _, key, left = keys[rule]
                    mine = np.where((key >= 0) & (key % parts == part), key, -1)
                    found, skipped = _refined_pairs(mine, left, settings.max_block, refine)
                    pairs = distinct(np.concatenate(found))
                    if settings.link_only:
                        pairs = pairs[features.source[pairs // n] != features.source[pairs % n]]
                    zeros = np.zeros(len(pairs), np.int64)
                    yield pd.DataFrame({"pair": pairs, "found": zeros, "skipped": zeros})
                    yield pd.DataFrame({"pair": [-1 - rule], "found": [len(pairs)],
                                        "skipped": [skipped]})

        def deduplicated(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            # A partition holds every copy of its pairs (partitioned by pair): the distinct
            # ones, in order, and the blocking's tallies passed on.
            frames = list(batches)
            if not frames:
                return
            frame = pd.concat(frames, ignore_index=True)
            tallies = frame["pair"].to_numpy() < 0
            yield frame[tallies]
            pair = distinct(frame["pair"].to_numpy(np.int64)[~tallies])
            del frame, frames
            zeros = np.zeros(len(pair), np.int64)
            yield pd.DataFrame({"pair": pair, "found": zeros, "skipped": zeros})

        tasks = spark.createDataFrame(
            [(r, p) for r in range(len(rules)) for p in range(parts)], "rule int, part int"
        ).repartition(parts)
        schema = "pair long, found long, skipped long"
        blocked = (tasks.mapInPandas(block, schema).repartition(parts, "pair")
                   .mapInPandas(deduplicated, schema).persist())
        per_rule = {rules[r][0]: 0 for r in range(len(rules))}
        skipped = 0
        for row in blocked.where("pair < 0").collect():
            per_rule[rules[-1 - row["pair"]][0]] += int(row["found"])
            skipped += int(row["skipped"])
        pairs = blocked.where("pair >= 0").select("pair")
        lap("blocking")

        gamma_cols = _gamma_columns(comparisons)
        fixed = training_flags(f, np.empty(0, np.int64), np.empty(0, np.int64), settings,
                               comparisons)[1]
        flag_cols = [f"flag_{s}" for s in range(len(fixed) + 2)]

        def counted(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            # Only the distinct (vector, flags) rows of each batch and their counts leave.
            features, _, keys = shared.value
            for batch in batches:
                pair = batch["pair"].to_numpy(np.int64)
                i, j = pair // n, pair % n
                gamma = compare(features, i, j, comparisons=comparisons)
                flags, _ = training_flags(features, i, j, settings, comparisons, keys)
                out = {c: gamma[:, k] for k, c in enumerate(gamma_cols)}
                out.update({c: flags[:, s] for s, c in enumerate(flag_cols)})
                yield (pd.DataFrame(out).value_counts(sort=False).rename("count")
                       .reset_index())

        schema = ", ".join([*(f"{c} tinyint" for c in gamma_cols),
                            *(f"{c} boolean" for c in flag_cols), "count long"])
        counts = (pairs.mapInPandas(counted, schema).groupBy(*gamma_cols, *flag_cols)
                  .agg({"count": "sum"}).withColumnRenamed("sum(count)", "count").toPandas())
        lap("comparisons")

        # Only distinct (vector, flags) rows and their counts reach the driver.
        model = train_model(
            f, settings, comparisons,
            counts[gamma_cols].to_numpy(np.int8), counts[flag_cols].to_numpy(bool), fixed,
            weights=counts["count"].to_numpy(float),
        )
        # Small (a few numbers per level), sent with the function: its comparisons hold
        # functions that only cloudpickle, Spark's pickler of closures, can send.

        def scored(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            # Compared again rather than kept: a comparison costs less than storing and
            # reading back its vector.
            features, frequencies, _ = shared.value
            for batch in batches:
                pair = batch["pair"].to_numpy(np.int64)
                i, j = pair // n, pair % n
                gamma = compare(features, i, j, comparisons=comparisons)
                probability, sure = score_pairs(features, model, i, j, gamma, settings,
                                                frequencies)
                out = {"pair": pair}
                out.update({c: gamma[:, k] for k, c in enumerate(gamma_cols)})
                yield pd.DataFrame({**out, "probability": probability, "sure": sure})

        table = pairs.mapInPandas(scored, ", ".join(
            ["pair long", *(f"{c} tinyint" for c in gamma_cols), "probability double",
             "sure boolean"]))
        pair, gamma, probability, sure = _in_pair_order(table, gamma_cols)
        del table
        blocked.unpersist()
        shared.unpersist()
        lap("estimation")
        return ScoredCandidates(pair // n, pair % n, gamma, probability, sure, model,
                                BlockingReport(len(pair), per_rule, skipped), seconds)


def _in_pair_order(table, gamma_cols: list[str]) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """The scored pairs' columns on the driver in ascending pair codes (the local engine's
    order: clustering reads pairs in order), one column at a time from Arrow: no pandas
    frame of the whole table, no sorted copy of it. Writable arrays: the engine writes
    reviewers' answers into them."""
    if not hasattr(table, "toArrow"):  # PySpark before 4.0
        frame = table.toPandas()
        columns = {c: frame[c].to_numpy() for c in frame.columns}
        del frame
    else:
        arrow = table.toArrow()
        columns = {c: arrow.column(c).to_numpy() for c in arrow.column_names}
        del arrow
    pair = columns.pop("pair").astype(np.int64, copy=False)
    order = np.argsort(pair, kind="stable")
    pair = pair[order]
    gamma = np.empty((len(pair), len(gamma_cols)), dtype=np.int8)
    for k, c in enumerate(gamma_cols):
        gamma[:, k] = columns.pop(c)[order]
    probability = columns.pop("probability").astype(float)[order]
    sure = columns.pop("sure").astype(bool)[order]
    return pair, gamma, probability, sure
