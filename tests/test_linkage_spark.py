"""The Spark engine (`observatoire.linkage.spark`) gives the local engine's answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatoire.cli import main
from observatoire.linkage.engine import LinkageSettings, link, link_features
from observatoire.linkage.records import validate_records
from observatoire.linkage.sample import build_sample_records
from observatoire.model import ObservatoireError

KEY = b"k" * 32


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    # Duplicates within sources, sightings without names, namesakes: every blocking pass
    # and both priors have pairs to work on.
    return validate_records(build_sample_records(n_people=300, seed=11))


def _same_answer(local, spark) -> None:
    assert np.array_equal(local.i, spark.i) and np.array_equal(local.j, spark.j)
    assert np.array_equal(local.gamma, spark.gamma)
    assert np.array_equal(local.probability, spark.probability)
    assert local.blocking == spark.blocking
    pd.testing.assert_frame_equal(local.clusters, spark.clusters)
    e, s = local.estimate, spark.estimate
    assert (e.people, e.low, e.high, e.clusters) == (s.people, s.low, s.high, s.clusters)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_gives_the_local_persons_and_estimate_on_clear_text(records, spark_master):
    from observatoire.linkage.spark import SparkScorer

    # Small blocks: the refinements by year and place run too.
    settings = LinkageSettings(max_block=20)
    local = link(records, settings)
    spark = link(records, settings, score_with=SparkScorer(spark_master, partitions=3))
    assert local.blocking.pairs < link(records).blocking.pairs  # blocks were split
    _same_answer(local, spark)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_gives_the_local_answer_on_stored_encodings(records, spark_master):
    from observatoire.linkage.spark import SparkScorer
    from observatoire.linkage.stored import features_as_stored

    local = link_features(features_as_stored(records, KEY))
    spark = link_features(features_as_stored(records, KEY),
                          score_with=SparkScorer(spark_master))
    assert local.model.loose_prior is not None  # the satellites' prior was trained
    _same_answer(local, spark)


@pytest.mark.spark
@pytest.mark.slow
def test_link_engine_spark_writes_the_local_persons(records, spark_master, tmp_path, capsys):
    path = tmp_path / "records.csv"
    records.to_csv(path, index=False)
    records.to_parquet(tmp_path / "records.parquet")  # the large files' format
    assert main(["link", str(path), "--output", str(tmp_path / "local.csv")]) == 0
    assert main(["link", str(tmp_path / "records.parquet"), "--output", str(tmp_path / "spark.csv"),
                 "--engine", "spark", "--spark-master", spark_master]) == 0
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "spark.csv").read_text()


def test_without_pyspark_the_error_says_what_to_install(monkeypatch):
    import sys

    from observatoire.linkage.spark import spark_session

    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ObservatoireError, match=r"pip install -e '\.\[spark\]'"):
        spark_session("local[1]")


def test_without_java_the_error_says_what_to_install(monkeypatch):
    import shutil

    from observatoire.linkage import spark

    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ObservatoireError, match="JAVA_HOME"):
        spark.spark_session("local[1]")


def test_spark_master_needs_the_spark_engine(records, tmp_path, capsys):
    path = tmp_path / "records.csv"
    records.to_csv(path, index=False)
    code = main(["link", str(path), "--output", str(tmp_path / "out.csv"),
                 "--spark-master", "local[2]"])
    assert code != 0
    assert "--engine spark" in capsys.readouterr().err
