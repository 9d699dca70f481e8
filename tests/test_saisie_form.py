"""The volunteer's form forgives (issue 15): confirmations next to the tapped button, a
tally that moves, ``*`` on the questions the answers make required, French labels in every
error, initials read upper-cased, consistency warnings before saving, a confirmed "nobody
met"; the team leader's page in French, without asking the code again; "Changer d'équipe"
forgets the team everywhere."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from streamlit.testing.v1 import AppTest
from test_survey_factories import interview

from observatoire.countnight import corrections, entry, team_sheets

REPO = Path(__file__).resolve().parents[1]


def _scalar(engine, sql: str):
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


def _entry(team: str, *, app: bool = False) -> AppTest:
    at = AppTest.from_file(str(REPO / ("streamlit_app.py" if app else "dashboards/saisie.py")),
                           default_timeout=60)
    at.query_params["equipe"] = team
    at.run()
    assert not at.exception, at.exception
    return at


def _pills(at: AppTest, label: str):
    return next(p for p in at.get("button_group") if p.proto.label.startswith(label))


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _after(at: AppTest, label: str) -> list:
    """The elements drawn after the button ``label``, in page order (what is next to it)."""
    elements = list(at.main)
    index = next(i for i, e in enumerate(elements)
                 if type(e).__name__ == "Button" and e.label == label)
    return elements[index + 1:]


def _texts(elements) -> list[str]:
    return [e.value for e in elements if type(e).__name__ in ("Success", "Error", "Warning",
                                                              "Info")]


def test_required_marks_follow_the_answers(night_db):
    _, night = night_db
    at = _entry(night.teams[0])
    assert not _pills(at, "Âge").proto.label.endswith("*")  # only observed: age optional
    _pills(at, "Situation").set_value("interviewed").run()
    assert _pills(at, "Âge").proto.label.endswith(" *")
    assert _pills(at, "Avec qui").proto.label.endswith(" *")
    assert not _pills(at, "Sexe").proto.label.endswith("*")
    assert any("réponse obligatoire" in c.value for c in at.caption)


def test_an_incomplete_form_names_its_questions_in_french_next_to_the_button(night_db):
    engine, night = night_db
    at = _entry(night.teams[0])
    _pills(at, "Situation").set_value("interviewed").run()
    _button(at, "Enregistrer la fiche").click().run()
    assert _scalar(engine, "SELECT count(*) FROM observation") == 0
    shown = _texts(_after(at, "Enregistrer la fiche"))
    assert shown and shown[0].startswith("Fiche pas encore enregistrée"), shown
    assert "« Âge (déclaré, ou apparent si la personne n'a pas répondu) » : réponse " \
        "obligatoire" in shown[0]
    for name in ("age_band", "sleeping_place", "household", "situation"):
        assert name not in shown[0]
    # Nothing is said at the top of the page, where the volunteer is not looking.
    assert not _texts(list(at.main)[: list(at.main).index(_button(at, "Endormie"))])


def test_saving_confirms_next_to_the_button_and_the_tally_moves(night_db):
    engine, night = night_db
    at = _entry(night.teams[0])
    assert next(m for m in at.metric if m.label == "Fiches de l'équipe").value == "0"
    for label, value in (("Situation", "interviewed"), ("Âge", "35-44"), ("Où", "rue"),
                         ("Avec qui", "alone")):
        _pills(at, label).set_value(value).run()
    _button(at, "Enregistrer la fiche").click().run()
    assert _scalar(engine, "SELECT count(*) FROM observation") == 1
    after = _after(at, "Enregistrer la fiche")
    assert _texts(after)[0] == "Fiche enregistrée ✓ — 1 personne comptée par l'équipe."
    tally = next(m for m in at.metric if m.label == "Fiches de l'équipe")
    assert (tally.value, tally.delta) == ("1", "+1")
    # A fresh questionnaire: the situation is empty again.
    assert _pills(at, "Situation").value is None


def test_a_one_tap_record_is_confirmed_under_the_one_tap_buttons(night_db):
    _, night = night_db
    at = _entry(night.teams[0])
    _button(at, "Endormie").click().run()
    elements = list(at.main)
    questionnaire_at = next(i for i, e in enumerate(elements)
                            if type(e).__name__ == "Subheader" and e.value == "Questionnaire")
    near = _texts(elements[:questionnaire_at])
    assert near == ["Fiche enregistrée ✓ — 1 personne comptée par l'équipe."]


def test_initials_typed_in_lower_case_are_shown_and_stored_upper_case(night_db):
    engine, night = night_db
    at = _entry(night.teams[0])
    for label, value in (("Situation", "interviewed"), ("Âge", "35-44"), ("Où", "rue"),
                         ("Avec qui", "alone")):
        _pills(at, label).set_value(value).run()
    initials = next(t for t in at.text_input if t.label.startswith("Initiales"))
    initials.input("md").run()
    assert next(t for t in at.text_input if t.label.startswith("Initiales")).value == "MD"
    _button(at, "Enregistrer la fiche").click().run()
    stored = corrections.team_record(engine, night.teams[0],
                                    _scalar(engine, "SELECT id FROM observation"))
    assert stored["initials"] == "MD"


def test_consistency_warnings_show_before_saving(night_db):
    engine, night = night_db
    at = _entry(night.teams[0])
    for label, value in (("Situation", "interviewed"), ("Âge", "35-44"), ("Où", "rue"),
                         ("Avec qui", "with_children")):
        _pills(at, label).set_value(value).run()
    next(n for n in at.number_input if n.label.startswith("Nombre d'enfants")).set_value(0).run()
    assert _scalar(engine, "SELECT count(*) FROM observation") == 0
    before = _texts(list(at.main)[: list(at.main).index(_button(at, "Enregistrer la fiche"))])
    assert any(t.startswith("À vérifier avant d'enregistrer") and "aucun enfant compté" in t
               for t in before), before
    _button(at, "Enregistrer la fiche").click().run()
    after = _texts(_after(at, "Enregistrer la fiche"))
    # Kept, and said in a warning box (not a green one).
    assert any(w.value.startswith("Fiche enregistrée ✓") for w in at.warning)
    assert not any("aucun enfant" in s.value for s in at.success), after


def test_nobody_met_is_asked_for_confirmation_then_stored_as_a_zero(night_db):
    engine, night = night_db
    at = _entry(night.teams[0])
    _button(at, entry.NOBODY_MET).click().run()
    assert _scalar(engine, "SELECT count(*) FROM sector_report") == 0  # not yet: confirm
    assert any(entry.NOBODY_MET in m.value and "sans rencontrer personne" in m.value
               for m in at.markdown)
    _button(at, "Annuler").click().run()
    assert _scalar(engine, "SELECT count(*) FROM sector_report") == 0
    _button(at, entry.NOBODY_MET).click().run()
    _button(at, "Oui, je confirme").click().run()
    assert _scalar(engine, "SELECT people_met FROM sector_report") == 0
    shown = _texts(_after(at, entry.NOBODY_MET))
    assert shown and "personne rencontrée : aucune" in shown[0], shown
    assert "personne(s)" not in shown[0]


def test_the_end_of_round_with_people_met_says_how_many(night_db):
    engine, night = night_db
    team = night.teams[0]
    entry.submit(engine, interview(team))
    at = _entry(team)
    assert not any(b.label == entry.NOBODY_MET for b in at.button)
    _button(at, "Secteur parcouru : fin de tournée").click().run()
    assert any("(1 personne comptée)" in m.value for m in at.markdown)
    _button(at, "Oui, je confirme").click().run()
    assert _scalar(engine, "SELECT people_met FROM sector_report") == 1


def test_the_printed_sheet_uses_the_tablet_words(night_db):
    engine, night = night_db
    sheets = team_sheets.team_sheets_html(engine, night.campaign_id)
    assert entry.NOBODY_MET in sheets
    assert "(« personne rencontrée »)" not in sheets


def test_changing_team_forgets_it_in_the_sidebar_and_the_address(night_db):
    _, night = night_db
    team = night.teams[0]
    at = _entry(team, app=True)
    # The sidebar names the team once the session has accepted its code (the next run).
    at.run()
    assert any(team in c.value for c in at.sidebar.caption)
    _button(at, "Changer d'équipe").click().run()
    assert not at.exception, at.exception
    assert not any(team in c.value for c in at.sidebar.caption)
    assert "equipe" not in at.query_params and "team_code" not in at.session_state
    assert at.text_input[0].label == "Code d'équipe"


def test_the_leader_page_speaks_french_and_does_not_ask_the_code_again(night_db):
    engine, night = night_db
    team = night.teams[0]
    asleep = entry.submit(engine, interview(team, situation="asleep", age_band=None,
                                                 sleeping_place=None, household=None,
                                                 children_count=None, homeless_duration=None,
                                                 calls_115=None, with_animals=None))
    corrections.correct_observation(engine, asleep.observation_id, {"sex": "F"},
                                   actor=f"chef:{team}", reason="erreur", team_code=team)
    at = AppTest.from_file(str(REPO / "dashboards/terrain.py"), default_timeout=60)
    at.session_state["team_code"] = team  # joined on the entry page
    at.run()
    assert not at.exception, at.exception
    assert not [t for t in at.text_input if t.label == "Code d'équipe"]
    listed = at.table[0].value.to_string()
    assert "Observée seulement : endormie" in listed
    assert "asleep" not in listed
    history = at.table[1].value
    assert history.to_dict("records") == [{"Question": "Sexe (observé ou déclaré)",
                                           "Avant": "Homme", "Après": "Femme"}]
    _button(at, "Changer d'équipe").click().run()
    assert [t for t in at.text_input if t.label == "Code d'équipe"]


def test_changing_team_on_the_leader_page_forgets_it_in_the_sidebar(night_db):
    _, night = night_db
    team = night.teams[0]
    at = _entry(team, app=True)
    at.run()  # the session has accepted the code: the sidebar names the team
    at.switch_page("dashboards/terrain.py").run()
    assert not at.exception, at.exception
    assert any(team in c.value for c in at.sidebar.caption)
    _button(at, "Changer d'équipe").click().run()
    assert not at.exception, at.exception
    assert not any(team in c.value for c in at.sidebar.caption)
    assert [t for t in at.text_input if t.label == "Code d'équipe"]
