"""No English text and no raw code on any page, for every role (issue 15).

Every page of the navigation is run with AppTest for the public, a volunteer (entry page
and team leader's page, with records of an open night), staff and an admin, on the sample
territory. The test reads every text the page sends to the browser (titles, labels,
options, help, placeholders, alerts, metrics, table headers and cells) and fails on a text
of `FORBIDDEN`. The texts the browser writes by itself ("Press Enter to apply", "Choose an
option", the file uploader's) never reach AppTest: the test checks instead that every page
mounts the translator of `dashboards.francais`, that it covers each of them, and that no
select box relies on Streamlit's English placeholder.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from app_pages import sections
from google.protobuf.descriptor import FieldDescriptor
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest
from test_survey_factories import interview

from observatoire.access import SESSION_KEY, navigation_plan, session_entry
from observatoire.config import load_settings
from observatoire.countnight import corrections, entry, lifecycle, team_sheets
from observatoire.model import Role
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the pages' package, as the app finds it
    sys.path.insert(0, str(REPO))
from dashboards import francais  # noqa: E402

FORBIDDEN = (
    # Streamlit's English (should the translator's texts ever reach the page itself).
    "Press Enter", "Choose an option", "Upload", "200MB per file", "Drag and drop",
    "Browse files", "Help for",
    # Raw values of enums and of pandas.
    "(open)", "(locked)", "(planned)", "(training)", "None", "nan", "NaN", "NaT", "True",
    "False", "asleep", "interviewed", "refused", "not_approachable", "already_answered",
    "in_progress", "walked", "with_children",
)  # fmt: skip
"""Texts no page may show (whole words, case as written)."""

_FORBIDDEN = re.compile("|".join(
    rf"(?<![\w]){re.escape(word)}(?![\w])" if word[0].isalnum() else re.escape(word)
    for word in FORBIDDEN
))  # fmt: skip

# Proto fields that are not shown as text (identifiers, styles, code).
_HIDDEN_FIELDS = {"id", "form_id", "key", "icon", "css", "js", "element_id", "page_script_hash",
                  "url_pathname", "page_name", "format", "spec", "data", "styles", "theme",
                  "component_name", "json_args", "url", "default_value_hash", "page_link"}


@pytest.fixture(scope="module")
def territory(tmp_path_factory):
    """The sample (a locked night), an open night with a team that recorded people (one
    corrected by its leader), a staff and an admin account."""
    data_dir = tmp_path_factory.mktemp("francais")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=11, history=False,
                          partner_feeds=False)
    engine = open_database(settings)
    campaign = lifecycle.create_campaign(
        engine, "dijon-metropole", "Nuit d'essai", dt.date.today(),
        questionnaire_version="ndls-2026", sector_size_m=4000, actor="test")
    lifecycle.open_campaign(engine, campaign, "test")
    team = team_sheets.team_sheets_table(engine, campaign)["team_code"].iloc[0]
    entry.submit(engine, interview(team))
    asleep = entry.submit(engine, interview(
        team, situation="asleep", age_band=None, sleeping_place=None, with_animals=None,
        household=None, children_count=None, homeless_duration=None, calls_115=None))
    corrections.correct_observation(engine, asleep.observation_id, {"sex": "F"},
                                   actor=f"chef:{team}", reason="erreur", team_code=team)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", None, actor="test")
        access_repository.create_user(session, "alex", "Alex", "admin", None, actor="test")
    engine.dispose()
    return settings, team


def _user_state(settings, login: str) -> dict:
    engine = open_database(settings)
    with Session(engine) as session:
        user = access_repository.account_user(session, login)
    engine.dispose()
    return {SESSION_KEY: session_entry(user)}


ROLES = {
    # role id -> (role of the navigation, pages to run: None for all of the role's)
    "public": (Role.PUBLIC, None),
    "benevole": (Role.VOLUNTEER, None),
    "chef": (Role.VOLUNTEER, ["dashboards/terrain.py"]),
    "staff": (Role.STAFF, None),
    "admin": (Role.ADMIN, None),
}


KNOWN: dict[str, str] = {}
"""Pages another branch is fixing (strict: the test fails as soon as they pass)."""


def _cases():
    for role_id, (role, only) in ROLES.items():
        plan = navigation_plan(role, sections())
        for entries in plan.values():
            for path, _ in entries:
                if only is None or path in only:
                    # (A volunteer is sent on from the home page: no table there.)
                    marks = ([pytest.mark.xfail(strict=True, reason=KNOWN[path])]
                             if path in KNOWN and role is not Role.VOLUNTEER else [])
                    yield pytest.param(role_id, path, id=f"{role_id}-{Path(path).stem}",
                                       marks=marks)


def _strings(message, out: list[str]) -> None:
    for field, value in message.ListFields():
        if field.name in _HIDDEN_FIELDS:
            continue
        values = value if field.is_repeated else [value]
        for item in values:
            if field.type == FieldDescriptor.TYPE_STRING:
                out.append(item)
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                _strings(item, out)


def _table_texts(frame: pd.DataFrame, checkboxes: bool = False) -> list[str]:
    """What a table shows: its headers and cells (an empty cell is drawn as "None"; with
    ``checkboxes``, as st.dataframe draws them, a boolean column is drawn as ticks)."""
    texts = [str(c) for c in frame.columns] + [str(n) for n in frame.index.names if n]
    if not isinstance(frame.index, pd.RangeIndex):
        texts += [str(i) for i in frame.index]
    for column in frame.columns:
        if checkboxes and pd.api.types.is_bool_dtype(frame[column]):
            continue
        texts += ["None" if pd.isna(v) and not isinstance(v, list) else str(v)
                  for v in frame[column]]
    return texts


def page_texts(at: AppTest) -> tuple[list[str], list[str]]:
    """(every text the page shows, the component names it mounts)."""
    texts: list[str] = []
    where: list[str] = []  # the kind of element of each text
    components: list[str] = []

    def visit(node) -> None:
        kind = type(node).__name__
        proto = getattr(node, "proto", None)
        before = len(texts)
        if kind in ("Dataframe", "Table"):
            texts.extend(_table_texts(node.value, checkboxes=kind == "Dataframe"))
        elif proto is not None and proto.DESCRIPTOR.name == "BidiComponent":
            components.append(proto.component_name)
        elif proto is not None:
            _strings(proto, texts)
            if kind in ("Selectbox", "Multiselect") and not proto.placeholder and (
                not proto.HasField("default") if kind == "Selectbox" else not proto.default
            ):
                texts.append("Choose an option")  # what Streamlit would write
        where[before:] = [kind] * (len(texts) - before)
        for child in getattr(node, "children", {}).values():
            visit(child)

    for root in (at.main, at.sidebar):
        visit(root)
    return [f"{kind}: {text}" for kind, text in zip(where, texts, strict=True)], components


def _run(settings, team: str, role_id: str, path: str) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    if role_id in ("staff", "admin"):
        state = _user_state(settings, "marie" if role_id == "staff" else "alex")
    elif role_id in ("benevole", "chef"):
        state = {"team_code": team}
    else:
        state = {}
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(path)
    return at.run()


@pytest.fixture
def run_page(territory, monkeypatch):
    settings, team = territory
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.setenv("OBSERVATOIRE_TERRITORY", "dijon-metropole")
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield lambda role_id, path: _run(settings, team, role_id, path)
    sys.modules.pop("dashboards.tableau_commun", None)


@pytest.mark.parametrize(("role_id", "path"), list(_cases()))
def test_no_page_shows_english_or_a_raw_code(run_page, role_id, path):
    at = run_page(role_id, path)
    assert not at.exception, at.exception
    texts, components = page_texts(at)
    assert texts, "nothing read on the page"
    found = sorted({f"{m.group(0)!r} in {t[:160]!r}" for t in texts
                    for m in _FORBIDDEN.finditer(t.split(": ", 1)[1])})  # fmt: skip
    assert not found, "\n".join(found)
    assert any(name.endswith("observatoire_francais") for name in components), components


def test_the_entry_page_with_every_question_shown_has_no_english(run_page):
    """The questionnaire of a person interviewed: the questions the skip logic hides."""
    at = run_page("benevole", "dashboards/saisie.py")
    situation = next(p for p in at.get("button_group")
                     if p.proto.label.startswith("Situation"))
    situation.set_value("interviewed").run()
    next(p for p in at.get("button_group")
         if p.proto.label.startswith("Appelez-vous")).set_value("souvent").run()
    texts, _ = page_texts(at)
    assert any("Lors de vos derniers appels" in t for t in texts)
    assert not [t for t in texts if _FORBIDDEN.search(t.split(": ", 1)[1])]


@pytest.mark.parametrize("english", ["Press Enter to apply", "Press Enter to submit form",
                                     "Choose an option", "Upload", "Drag and drop a file here",
                                     "Running...", "Stop"])
def test_the_translator_covers_what_streamlit_writes_in_the_browser(english):
    assert francais.BROWSER_TEXTS[english]
    assert not _FORBIDDEN.search(francais.BROWSER_TEXTS[english])


def test_the_translator_rewrites_the_file_size_limit():
    """Streamlit writes "200MB per file" (its size format, then " • CSV")."""
    pattern, replacement = next(p for p in francais.BROWSER_PATTERNS if "MB" in p[0])
    js = re.compile(pattern)
    assert js.sub(replacement.replace("$1", r"\1"), "200MB per file • CSV") == \
        "200 Mo au plus par fichier • CSV"


def test_the_detector_sees_raw_values_and_empty_cells():
    """The test's own reader: a raw code, an empty cell and an English placeholder."""
    frame = pd.DataFrame({"Situation": ["asleep", "Endormie"], "Âge": [None, "18 à 24 ans"]})
    texts = _table_texts(frame)
    assert {m.group(0) for t in texts for m in _FORBIDDEN.finditer(t)} == {"asleep", "None"}
    assert not _FORBIDDEN.search("Nonette, Nantes, Falsebourg : (ouverte)")
