"""XLSForm export, checked by pyxform (and by ODK Validate when Java is present)."""

from __future__ import annotations

import shutil

import pytest
from pyxform.xls2xform import convert

from observatoire.survey import list_questionnaires, load_questionnaire
from observatoire.survey.xlsform import to_xlsform, write_xlsform


@pytest.mark.parametrize("version", list_questionnaires())
def test_every_questionnaire_exports_to_a_valid_xlsform(tmp_path, version):
    q = load_questionnaire(version)
    path = write_xlsform(q, tmp_path / f"{version}.xlsx")
    warnings: list[str] = []
    result = convert(xlsform=str(path), warnings=warnings, validate=False)
    assert f'id="{version}"' in result.xform
    assert "selected(${calls_115_outcome}" not in result.xform  # only used where needed
    assert "/data/situation = 'interviewed'" in result.xform.replace("  ", " ")
    assert warnings == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate a besoin de Java")
def test_odk_validate_accepts_the_standard_form(tmp_path):
    q = load_questionnaire("ndls-2026")
    convert(xlsform=to_xlsform(q), validate=True, form_name="data")


def test_skip_logic_and_constraints_are_exported():
    sheets = to_xlsform(load_questionnaire("ndls-2026"))
    rows = {row["name"]: row for row in sheets["survey"]}
    assert rows["calls_115_outcome"]["relevant"] == (
        "(${calls_115} = 'parfois' or ${calls_115} = 'souvent')"
    )
    assert rows["age_band"]["required"] == "${situation} = 'interviewed'"
    assert rows["birth_year"]["constraint"] == ". >= 1920 and . <= 2026"
    assert rows["with_animals"]["type"] == "select_one oui_non"
    assert rows["collected_at"]["type"] == "start"


def test_cli_exports_and_checks(tmp_path, capsys):
    from observatoire.cli import main

    output = tmp_path / "form.xlsx"
    assert main(["survey", "export", "ndls-2026", "--output", str(output)]) == 0
    assert output.is_file()
    convert(xlsform=str(output), validate=False)
    assert main(["survey", "check", "ndls-2026"]) == 0
    bad = tmp_path / "cassé.yaml"
    bad.write_text("version: [", encoding="utf-8")
    assert main(["survey", "check", str(bad)]) == 2
    assert "YAML illisible" in capsys.readouterr().err
