"""A quiet, predictable terminal (issue 15): French usage lines everywhere, Streamlit's
start-up lines in French, a busy port answered with another one, no file watcher outside
development, French errors for an unknown night, the records kept with a warning named,
and the night's team codes listed for staff."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from observatoire import cli
from observatoire.cli import build_parser, main
from observatoire.countnight import entry, lifecycle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_survey_factories import interview, make_night  # noqa: E402

from observatoire.store.db import make_engine  # noqa: E402


@pytest.mark.parametrize("command", [["link"], ["publish"], ["nuit", "list"], ["estimate",
                                     "hidden"], ["feed", "import"], ["sample", "stress"],
                                     ["report", "annual"]])
def test_every_help_says_usage_in_french(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage : "), out[:40]


def test_the_stress_scenarios_of_the_help_are_the_generator_s():
    from observatoire.synthetic.stress import SCENARIOS

    assert list(cli.STRESS_SCENARIOS) == list(SCENARIOS)


@pytest.mark.parametrize(("line", "french"), [
    ("  You can now view your Streamlit app in your browser.",
     "  L'application est prête : ouvrez-la dans votre navigateur."),
    ("  Local URL: http://localhost:8501", "  Adresse sur cet ordinateur : http://localhost:8501"),
    ("  Network URL: http://10.0.0.2:8501",
     "  Adresse sur le réseau local : http://10.0.0.2:8501"),
    ("  Stopping...", "  Arrêt de l'application…"),
    ("Did not auto detect external IP.", None),
    ("2026-12-03 17:20:43.897 Did not auto detect external IP.", None),
    ("une ligne de l'application", "une ligne de l'application"),
])
def test_streamlit_start_up_lines_are_shown_in_french(line, french):
    assert cli.streamlit_line_fr(line) == french


class _Started(Exception):
    pass


def _capture_command(monkeypatch) -> list:
    seen = []

    def popen(command, **kwargs):
        seen.append(command)
        raise _Started

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    return seen


@pytest.mark.parametrize(("dev", "watcher"), [(False, "none"), (True, "auto")])
def test_no_file_watcher_outside_development(monkeypatch, dev, watcher):
    seen = _capture_command(monkeypatch)
    monkeypatch.setattr(cli, "port_is_free", lambda port: True)
    with pytest.raises(_Started):
        cli._run_streamlit(None, "dijon-metropole", dev=dev)
    command = seen[0]
    assert command[command.index("--server.fileWatcherType") + 1] == watcher
    assert command[command.index("--server.port") + 1] == "8501"


def _busy_port():
    holder = socket.socket()
    holder.bind(("", 0))
    holder.listen()
    return holder, holder.getsockname()[1]


def test_a_busy_default_port_moves_to_the_next_free_one(monkeypatch, capsys):
    holder, busy = _busy_port()
    try:
        monkeypatch.setattr(cli, "DEFAULT_PORT", busy)
        seen = _capture_command(monkeypatch)
        with pytest.raises(_Started):
            cli._run_streamlit(None, "dijon-metropole")
    finally:
        holder.close()
    port = int(seen[0][seen[0].index("--server.port") + 1])
    assert port > busy
    err = capsys.readouterr().err
    assert f"le port {busy} est déjà utilisé" in err and f"port {port}" in err


def test_a_busy_chosen_port_is_refused_with_another_one_offered(monkeypatch, capsys):
    holder, busy = _busy_port()
    try:
        _capture_command(monkeypatch)
        assert main(["app", "--port", str(busy)]) == 2
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert f"Le port {busy} est déjà utilisé" in err and "--port " in err
    assert "Traceback" not in err and "not available" not in err


@pytest.fixture
def night_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'o.sqlite'}"
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", url)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    engine = make_engine(url)
    night = make_night(engine)
    yield engine, night, tmp_path
    engine.dispose()


def test_publishing_an_unknown_night_is_a_french_error(night_env, capsys):
    _, _, tmp_path = night_env
    assert main(["publish", "--campaign", "99", "--territory", "test-territoire",
                 "--output", str(tmp_path / "pub")]) == 2
    err = capsys.readouterr().err
    assert "introuvable" in err and "99" in err
    assert "KeyError" not in err and "Traceback" not in err


def test_night_list_shows_the_team_codes_for_staff(night_env, capsys):
    engine, night, _ = night_env
    assert main(["nuit", "list", "--codes"]) == 0
    out = capsys.readouterr().out
    assert "codes d'équipe : valides jusqu'au" in out
    for team in night.teams:
        assert team in out
    assert main(["nuit", "list"]) == 0
    assert night.teams[0] not in capsys.readouterr().out


def test_night_list_says_when_the_codes_open_nothing(night_env, capsys):
    engine, night, _ = night_env
    lifecycle.lock_campaign(engine, night.campaign_id, "test")
    assert main(["nuit", "list", "--codes"]) == 0
    assert "codes d'équipe : fermés (nuit close (verrouillée))" in capsys.readouterr().out


def test_a_batch_report_names_the_records_kept_with_a_warning(night_env):
    engine, night, _ = night_env
    team = night.teams[0]
    odd = interview(team, household="with_children", children_count=0)
    report = entry.submit_many(engine, [interview(team), odd], source="rejeu")
    assert report.warnings == 1
    assert report.warning_lines() == [
        f"avertissement : fiche {odd.submission_uuid} (équipe {team}, secteur —) : Ménage "
        "« avec enfant(s) » mais aucun enfant compté."]


def test_a_reader_that_stops_reading_ends_the_listing_quietly(night_env):
    """`observatoire nuit list | head -3`: once head has read its lines the pipe is closed."""
    import os
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop(cli.DEBUG_ENV, None)
    try:
        done = subprocess.run([sys.executable, "-m", "observatoire.cli", "nuit", "list",
                               "--codes"], stdout=write_end, stderr=subprocess.PIPE, env=env,
                              timeout=120, check=False)  # fmt: skip
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert err == "", err
    assert done.returncode == 141
