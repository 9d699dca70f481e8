"""The command line: French help, clear messages for wrong arguments, no tracebacks."""

import subprocess
import sys

import pytest

from observatoire.cli import build_parser, main

SUBCOMMANDS = ["demo", "app", "db", "sample", "territory"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "observatoire.cli", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


def test_help_lists_every_subcommand_in_french():
    result = run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage : observatoire")
    for name in SUBCOMMANDS:
        assert f"\n    {name}" in result.stdout
    assert "affiche cette aide et quitte" in result.stdout
    assert "show this help" not in result.stdout


@pytest.mark.parametrize(
    "args",
    [["demo"], ["app"], ["db"], ["db", "upgrade"], ["sample", "build"], ["sample", "generate"],
     ["territory", "import"], ["territory", "list"]],
    ids=lambda a: "-".join(a),
)
def test_every_subcommand_has_french_help(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage : observatoire")
    assert "options" in out and "affiche cette aide" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["fly"], "choix invalide"),
        ([], "arguments obligatoires manquants"),
        (["db"], "arguments obligatoires manquants"),
        (["demo", "--port", "huit"], "nombre entier invalide"),
        (["sample", "generate"], "--output"),
        (["territory", "import", "--nope"], "arguments non reconnus"),
    ],
    ids=["unknown-command", "no-command", "no-db-command", "bad-int", "missing-output",
         "unknown-option"],
)
def test_wrong_arguments_give_a_message_not_a_traceback(args, expected, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "observatoire --help" in err or "Aide :" in err
    assert "Traceback" not in err


def test_domain_errors_are_printed_without_traceback(tmp_path, monkeypatch):
    env = {"OBSERVATOIRE_DATA_DIR": str(tmp_path),
           "OBSERVATOIRE_DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/nowhere",
           "PATH": "/usr/bin:/bin"}
    result = run("db", "upgrade", env=env)
    assert result.returncode == 2
    assert "Base de données injoignable" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_parser_builds_without_touching_the_database():
    parser = build_parser()
    assert parser.prog == "observatoire"
