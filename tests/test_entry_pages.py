"""AppTest smoke tests of the count-night pages (tablet entry, team leader, staff)."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest
from test_survey_factories import interview, sign_in_staff

from observatoire.access import PUBLIC_USER, SESSION_KEY, can_open, current_user
from observatoire.countnight import corrections, entry, lifecycle, team_sheets
from observatoire.model import Role

REPO_PAGES = "../dashboards/"


STAFF = "camille.test"


def _audit(engine, action: str) -> list[tuple[str, dict]]:
    from observatoire.store.tables import AuditLogRow

    with Session(engine) as session:
        return [(r.actor, r.details) for r in session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == action).order_by(AuditLogRow.id))]


def _close_the_night(engine, campaign_id: int) -> None:
    """The night of the test campaign (29/01/2026) as if it had been opened that evening:
    its team codes closed at noon the next day."""
    from observatoire.store.survey_repository import campaign_option

    with Session(engine) as session, session.begin():
        campaign_option(session, campaign_id).codes_opened_at = dt.datetime(
            2026, 1, 29, 19, 0, tzinfo=dt.UTC)


def _page(name: str) -> AppTest:
    return AppTest.from_file(REPO_PAGES + name, default_timeout=60)


def _count(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM observation")).scalar()


def test_saisie_one_tap_and_questionnaire(night_db):
    engine, night = night_db
    at = _page("saisie.py")
    at.query_params["equipe"] = night.teams[0]
    at.run()
    assert not at.exception
    at.button(key=next(b.key for b in at.button if b.label == "Endormie")).click().run()
    assert _count(engine) == 1
    assert any("Fiche enregistrée" in s.value for s in at.success)
    submit = next(b for b in at.button if b.label == "Enregistrer la fiche")
    submit.click().run()  # empty form: nothing stored, said kindly
    assert _count(engine) == 1
    assert any("Fiche vide" in i.value for i in at.info)


def test_saisie_unknown_code(night_db):
    at = _page("saisie.py")
    at.run()
    at.text_input[0].input("ZZZZZZ")
    at.button[0].click().run()
    assert "Code d'équipe inconnu" in at.error[0].value


def test_terrain_lists_and_corrects(night_db):
    engine, night = night_db
    team = night.teams[0]
    stored = entry.submit(engine, interview(team, comment="Commentaire de test visible"))
    at = _page("terrain.py")
    at.query_params["equipe"] = team
    at.run()
    assert not at.exception
    assert len(at.table) == 1 and len(at.table[0].value) == 1
    sex = next(s for s in at.selectbox if s.label.startswith("Sexe"))
    sex.set_value("F")
    next(t for t in at.text_input if t.label.startswith("Raison")).input("erreur de saisie")
    at.button(key=next(b.key for b in at.button if b.label == "Enregistrer la correction"))
    next(b for b in at.button if b.label == "Enregistrer la correction").click().run()
    assert not at.exception, at.exception
    assert any("Correction enregistrée (1 champ(s))" in s.value for s in at.success)
    history = corrections.observation_history(engine, stored.observation_id)
    assert history[0]["after"]["sex"] == "F"
    assert history[0]["actor"] == f"chef:{team}"


@pytest.mark.parametrize("page", ["campagnes.py", "couverture.py"])
def test_staff_pages_render(night_db, page):
    at = _page(page)
    sign_in_staff(at, STAFF)
    at.run()
    assert not at.exception, at.exception
    assert not at.error


# --- a volunteer's reload: the team code kept in the address ------------------------------


def _app() -> AppTest:
    return AppTest.from_file("../streamlit_app.py", default_timeout=60)


def test_the_address_team_code_makes_a_volunteer_for_the_navigation_only():
    assert current_user({}, {}) == PUBLIC_USER
    volunteer = current_user({}, {"equipe": " k7qx2m "})
    assert (volunteer.role, volunteer.team_code) == (Role.VOLUNTEER, "K7QX2M")
    staff = {SESSION_KEY: {"login": "a", "display_name": "A", "role": "staff"}}
    assert current_user(staff, {"equipe": "K7QX2M"}).role is Role.STAFF
    # The code accepted in the session wins over the address.
    assert current_user({"team_code": "AAAAAA"}, {"equipe": "K7QX2M"}).team_code == "AAAAAA"
    # Outside Streamlit (a plain mapping), no address is read.
    assert current_user({}) == PUBLIC_USER
    # A volunteer, from the address or not, opens nothing beyond the public's links.
    for page in ("dashboards/tableau.py", "dashboards/couverture.py", "dashboards/admin.py"):
        assert not can_open(volunteer.role, page)


def test_a_fresh_session_with_the_team_code_in_the_address_reopens_the_entry_page(night_db):
    """What a reload, a restored tab or a reconnect to a new server session does."""
    engine, night = night_db
    team = night.teams[0]
    entry.submit(engine, interview(team))
    at = _app()
    at.query_params["equipe"] = team.lower()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value.endswith("— NDLS test")
    assert at.metric[0].label == "Personnes comptées par l'équipe"
    assert at.metric[0].value == "1"
    assert any(b.label == "Enregistrer la fiche" for b in at.button)
    assert at.query_params["equipe"] == team  # normalised, kept for the next reload
    assert at.session_state["team_code"] == team
    # The entry page is the volunteer's default page: the public home is not offered.
    assert not [t for t in at.title if "Accueil" in t.value]
    at.button(key=next(b.key for b in at.button if b.label == "Endormie")).click().run()
    assert _count(engine) == 2


@pytest.mark.parametrize("locked", [False, True], ids=["code-inconnu", "campagne-verrouillee"])
def test_a_refused_code_in_the_address_goes_back_to_the_code_field(night_db, locked):
    engine, night = night_db
    if locked:
        lifecycle.lock_campaign(engine, night.campaign_id, "coordination")
    at = _app()
    at.query_params["equipe"] = night.teams[0] if locked else "ZZZZZZ"
    at.run()
    assert not at.exception, at.exception
    expected = "est verrouillée" if locked else "Code d'équipe inconnu : « ZZZZZZ »"
    assert [e.value for e in at.error if expected in e.value]
    assert "equipe" not in at.query_params
    assert "team_code" not in at.session_state
    assert at.text_input[0].label == "Code d'équipe"
    assert _count(engine) == 0


def test_a_typed_code_of_a_locked_campaign_is_refused(night_db):
    engine, night = night_db
    lifecycle.lock_campaign(engine, night.campaign_id, "coordination")
    at = _page("saisie.py")
    at.run()
    at.text_input[0].input(night.teams[0])
    at.button[0].click().run()
    assert "est verrouillée" in at.error[0].value
    assert "team_code" not in at.session_state


def test_a_campaign_locked_during_the_night_sends_the_tablet_back_to_the_code(night_db):
    engine, night = night_db
    at = _page("saisie.py")
    at.query_params["equipe"] = night.teams[0]
    at.run()
    assert any(b.label == "Enregistrer la fiche" for b in at.button)
    lifecycle.lock_campaign(engine, night.campaign_id, "coordination")
    at.run()
    assert any("est verrouillée" in e.value for e in at.error)
    assert not any(b.label == "Enregistrer la fiche" for b in at.button)


# --- issue 19: what a team code opens, and for how long -----------------------------------


@pytest.mark.parametrize("closed", ["verrouillee", "nuit-finie"])
def test_the_leader_page_shows_no_record_of_a_locked_or_finished_night(night_db, closed):
    engine, night = night_db
    team = night.teams[0]
    entry.submit(engine, interview(team, comment="Commentaire de test visible"))
    if closed == "verrouillee":
        lifecycle.lock_campaign(engine, night.campaign_id, "camille.test")
    else:
        _close_the_night(engine, night.campaign_id)
    at = _page("terrain.py")
    at.query_params["equipe"] = team
    at.run()
    assert not at.exception, at.exception
    assert not at.table and not at.dataframe and not at.selectbox
    expected = "est verrouillée" if closed == "verrouillee" else "a expiré"
    assert [e.value for e in at.error if expected in e.value]
    assert not _audit(engine, "team_code.access")


def test_the_leader_page_offers_no_download_and_audits_the_team_code(night_db):
    engine, night = night_db
    team = night.teams[0]
    entry.submit(engine, interview(team, comment="Commentaire de test visible",
                                        initials="JD", birth_year=1980))
    at = _page("terrain.py")
    at.query_params["equipe"] = team
    at.run()
    assert not at.exception, at.exception
    # A static table (no toolbar, so no "Download as CSV"), no download button, and only
    # a few coded fields in the list.
    assert not at.dataframe and not at.get("download_button")
    listed = at.table[0].value
    assert "Commentaire de test visible" not in listed.to_string()
    assert "1980" not in listed.to_string() and "JD" not in listed.to_string()
    at.run()  # a rerun of the same session is not a new access
    assert [(actor, details["campaign_id"], details["page"])
            for actor, details in _audit(engine, "team_code.access")] == [
        (f"equipe:{team}", night.campaign_id, "terrain")]


def test_tables_have_no_download_in_the_served_configuration():
    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


@pytest.mark.parametrize("typed", [False, True], ids=["adresse", "tape"])
def test_the_entry_page_refuses_a_code_whose_night_is_over(night_db, typed):
    engine, night = night_db
    _close_the_night(engine, night.campaign_id)
    at = _page("saisie.py")
    if typed:
        at.run()
        at.text_input[0].input(night.teams[0])
        at.button[0].click().run()
    else:
        at.query_params["equipe"] = night.teams[0]
        at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "a expiré" in e.value and "29/01/2026" in e.value]
    assert not any(b.label == "Enregistrer la fiche" for b in at.button)
    assert "team_code" not in at.session_state
    assert _count(engine) == 0


PAYLOADS = ["[Session expirée : reconnectez-vous ICI](http://evil.example/phish)",
            "![i](http://evil.example/p.png)", ":red[alerte] **gras** <b>x</b> www.evil.example"]


def _bodies(at: AppTest) -> list[str]:
    kinds = ("success", "error", "info", "warning", "caption", "markdown", "title", "subheader")
    return [e.value for kind in kinds for e in getattr(at, kind)]


def _live_markdown(body: str) -> bool:
    """Whether ``body`` still holds markup a browser would turn into a link, an image or
    a directive: an unescaped bracket, a scheme or ``www.`` of a literal autolink."""
    return bool(re.search(r"(?<!\\)[\[\]]", body) or re.search(r"(?i)https?://|www\.", body))


@pytest.mark.parametrize("payload", PAYLOADS, ids=["lien", "image", "directive"])
@pytest.mark.parametrize("page", ["connexion.py", "terrain.py", "saisie.py", "app"])
def test_markdown_in_the_team_code_of_the_address_is_shown_as_text(night_db, page, payload):
    at = _app() if page == "app" else _page(page)
    at.query_params["equipe"] = payload
    at.run()
    assert not at.exception, at.exception
    bodies = _bodies(at) + [e.value for e in at.sidebar.caption]
    # The code field of the leader's page keeps 12 characters: the refusal quotes those.
    shown = [b for b in bodies if "evil" in b.lower() or "«" in b]
    assert shown, bodies  # the payload reached the page...
    assert not [b for b in shown if _live_markdown(b)], shown  # ...as plain text only


def test_the_plain_helper_keeps_french_punctuation_and_escapes_markup():
    from dashboards.common import plain

    assert plain("Code d'équipe inconnu : « AB12 ».") == "Code d'équipe inconnu : « AB12 »."
    assert not _live_markdown(plain("[x](http://evil) ![i](https://e/p.png) www.e.fr"))
    assert plain("a*b*_c_ `d` $e$ #f") == "a\\*b\\*\\_c\\_ \\`d\\` \\$e\\$ \\#f"


# --- issue 19: staff pages, campaign actions and exports under the signed-in person -------


@pytest.mark.parametrize("page", ["campagnes.py", "couverture.py"])
@pytest.mark.parametrize("who", ["public", "benevole"])
def test_campaign_pages_refuse_the_public_and_volunteers(night_db, page, who):
    engine, night = night_db
    at = _page(page)
    if who == "benevole":
        at.query_params["equipe"] = night.teams[0]
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "Accès réservé" in e.value]
    assert not at.button and not at.selectbox and not at.metric


def test_campaign_actions_are_audited_under_the_signed_in_login(night_db):
    engine, night = night_db
    at = _page("campagnes.py")
    sign_in_staff(at, STAFF)
    at.run()
    assert not at.exception, at.exception
    next(b for b in at.button if b.label == "Activer l'entraînement").click().run()
    next(c for c in at.checkbox if c.label == "Je confirme le verrouillage").check().run()
    next(b for b in at.button if b.label == "Verrouiller la campagne").click().run()
    assert not at.exception, at.exception
    assert [a for a, _ in _audit(engine, "campaign.training")] == ["camille.test"]
    assert [a for a, _ in _audit(engine, "campaign.lock")] == ["camille.test"]
    assert not _audit(engine, "export.team_sheets")  # drawing the page exports nothing
    assert [b.label for b in at.get("download_button")] == [
        "Fiches d'équipe à imprimer (HTML)", "Équipes et secteurs (CSV)"]


def test_a_download_is_built_and_audited_on_the_click_only(night_db):
    from observatoire import exports

    engine, night = night_db
    built = []

    def make() -> str:
        built.append(1)
        return team_sheets.team_sheets_html(engine, night.campaign_id)

    download = exports.audited(engine, "camille.test", "team_sheets", make,
                               campaign_id=night.campaign_id)
    assert not built and not _audit(engine, "export.team_sheets")
    assert night.teams[0] in download()
    assert _audit(engine, "export.team_sheets") == [
        ("camille.test", {"campaign_id": night.campaign_id})]


@pytest.mark.parametrize("page, tables", [
    ("tableau_qualite.py", ["champs-manquants", "effectifs-profil", "secteurs-non-couverts"]),
    ("tableau.py", ["communes"]),
])  # fmt: skip
def test_staff_tables_have_an_audited_csv_download_instead_of_the_toolbar(
    night_db, monkeypatch, page, tables
):
    """The toolbar's "Download as CSV" is off (unaudited); each table staff export gets a
    button whose file is built on the click, audited under the signed-in login, and holds
    the table as shown, for a French spreadsheet."""
    import csv

    import streamlit

    engine, night = night_db
    entry.submit(engine, interview(night.teams[0]))
    downloads: dict[str, tuple] = {}

    def capture(label, data, *_a, file_name, **_k):  # noqa: ANN001, ANN202
        downloads[file_name] = (label, data)

    monkeypatch.setattr(streamlit, "download_button", capture)
    at = _page(page)
    sign_in_staff(at, STAFF)
    at.run()
    assert not at.exception, at.exception
    names = {name.rsplit("-", 1)[0]: name for name in downloads}
    assert set(tables) <= set(names), downloads
    assert not _audit(engine, "export.table")  # drawn, not built
    shown = {tuple(frame.value.columns) for frame in at.dataframe}
    for n, table in enumerate(tables, start=1):
        label, build = downloads[names[table]]
        assert label == "Télécharger ce tableau (CSV)" and callable(build)
        data = build()
        assert data.startswith("\ufeff".encode())
        rows = list(csv.reader(data.decode("utf-8-sig").splitlines(), delimiter=";"))
        assert tuple(rows[0]) in shown and len(rows) > 1  # the header of a table shown
        audit = _audit(engine, "export.table")
        assert len(audit) == n and audit[-1][0] == STAFF
        assert audit[-1][1]["table"] == names[table]
        assert audit[-1][1]["campaign_id"] == night.campaign_id
