"""Attacks on sign-in and sessions (issue 19, findings 11, 12 and 16): guessing team codes and
passwords, enumerating accounts, sessions that outlive their account, a readable database
file, trivial passwords, a password on the command line, error details in the browser."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import argon2
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest
from test_survey_factories import make_night

from observatoire import security
from observatoire.access import (
    PASSWORD_THROTTLE,
    PUBLIC_USER,
    SESSION_KEY,
    SIGNED_OUT_KEY,
    TEAM_CODE_THROTTLE,
    TooManyAttemptsError,
    WeakPasswordError,
    current_user,
    hash_password,
    password_problem,
    session_entry,
)
from observatoire.countnight.entry import UnknownTeamError
from observatoire.model import Role
from observatoire.store import access_repository as access
from observatoire.store.access_tables import SignInThrottleRow
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.tables import AuditLogRow

REPO = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0  # an injected clock: seconds since the epoch
PASSWORD = "une phrase de passe"


def _actions(engine, prefix: str = "login") -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(
            select(AuditLogRow.action).where(AuditLogRow.action.startswith(prefix))
            .order_by(AuditLogRow.id)
        ))  # fmt: skip


def _details(engine, action: str) -> list[dict]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditLogRow.details)
                                    .where(AuditLogRow.action == action)))  # fmt: skip


@pytest.fixture
def verifications(monkeypatch):
    """How many argon2 verifications ran (each costs about 0.8 s and 64 MiB)."""
    calls = []
    original = argon2.PasswordHasher.verify

    def counted(self, hash_, password):  # noqa: ANN001 - argon2's signature
        calls.append(hash_)
        return original(self, hash_, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted)
    return calls


# --- finding 11: team codes -----------------------------------------------------------------


def test_200_wrong_team_codes_are_locked_out_with_a_growing_wait_and_audited(engine):
    night = make_night(engine)
    client = "adresse:203.0.113.7"
    refused, locked = 0, []
    for attempt in range(200):
        try:
            security.join_team(engine, f"ZZ{attempt:04d}", client=client, page="terrain",
                               now=T0 + attempt * 0.4)  # 2.5 tries a second, no sleep
        except TooManyAttemptsError as exc:
            locked.append(exc)
        except UnknownTeamError:
            refused += 1
    # 80 seconds of guessing: 5 free tries, then locked 15 s, one try, locked 30 s, one try
    # (now locked 60 s): 7 codes checked out of 200.
    assert refused == 7 and len(locked) == 193
    assert "Trop d'essais infructueux" in str(locked[0]) and "Réessayez dans" in str(locked[0])
    # While locked, the right code is refused too (nothing is checked)...
    with pytest.raises(TooManyAttemptsError):
        security.join_team(engine, night.teams[0], client=client, page="saisie", now=T0 + 80)
    # ... but not for another tablet, nor for the code this session already joined with.
    assert security.join_team(engine, night.teams[0], client="adresse:198.51.100.2",
                              page="saisie", now=T0 + 80).team_code == night.teams[0]
    assert security.join_team(engine, night.teams[0], client=client, page="saisie",
                              accepted=night.teams[0], now=T0 + 80).team_code == night.teams[0]
    # Every failure is in the audit log, with the page and the client (never the code).
    actions = _actions(engine, "login.team")
    assert actions.count("login.team_failed") == 7
    assert actions.count("login.team_locked") == 194
    details = _details(engine, "login.team_failed")
    assert {d["page"] for d in details} == {"terrain"}
    assert all("ZZ" not in str(d) for d in details)
    # Backoff: once the wait is over, each further failure doubles it.
    with Session(engine) as session:
        first = session.get(SignInThrottleRow, f"code_equipe:client:{client}").locked_until
    waits = []
    now = first + 1
    for _ in range(3):
        with pytest.raises(UnknownTeamError):
            security.join_team(engine, "ZZZZZZ", client=client, page="saisie", now=now)
        with Session(engine) as session:
            until = session.get(SignInThrottleRow, f"code_equipe:client:{client}").locked_until
        waits.append(until - now)
        now = until + 1
    assert waits == [120.0, 240.0, 480.0]  # 15 s doubled at each failure after the 5th


def test_team_codes_on_the_sign_in_page_share_the_lockout(engine):
    make_night(engine)
    client = "session:abc"
    for attempt in range(5):
        assert security.team_sign_in(engine, "ZZZZZZ", client=client, page="connexion",
                                     now=T0 + attempt) is None  # fmt: skip
    with pytest.raises(TooManyAttemptsError):
        security.join_team(engine, "ZZZZZZ", client=client, page="saisie", now=T0 + 6)
    assert _actions(engine, "login.team") == ["login.team_failed"] * 5 + ["login.team_locked"]
    # Forgotten after a quiet while.
    later = T0 + TEAM_CODE_THROTTLE.forget_after + 60
    assert security.team_sign_in(engine, "ZZZZZZ", client=client, page="connexion",
                                 now=later) is None  # fmt: skip
    with Session(engine) as session:
        assert session.get(SignInThrottleRow, f"code_equipe:client:{client}").failures == 1


# --- finding 11: passwords and account enumeration --------------------------------------------


def test_50_wrong_passwords_lock_the_account_out_and_cost_no_more_hashing(engine, verifications):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="admin")
    locked = 0
    for attempt in range(50):
        # From many addresses: the count per login still locks the account.
        try:
            assert security.sign_in(engine, "marie", f"essai numéro {attempt:02d}",
                                    client=f"adresse:192.0.2.{attempt}",
                                    now=T0 + attempt) is None  # fmt: skip
        except TooManyAttemptsError:
            locked += 1
    # 5 free tries, locked 30 s, one try, locked 60 s: 6 verifications out of 50.
    assert locked == 44
    assert len(verifications) == 6  # a locked attempt runs no argon2 at all
    # The right password is refused too while locked, and accepted after the wait.
    with pytest.raises(TooManyAttemptsError, match="Réessayez dans"):
        security.sign_in(engine, "marie", PASSWORD, now=T0 + 50)
    user = security.sign_in(engine, "marie", PASSWORD, now=T0 + 34 + 61)
    assert user.role is Role.STAFF
    actions = _actions(engine)
    assert actions.count("login.failed") == 6 and actions.count("login.locked") == 45
    assert actions[-1] == "login"
    assert all("essai" not in str(d) for d in _details(engine, "login.failed"))
    with Session(engine) as session:  # the login's count is forgotten after a success
        assert session.get(SignInThrottleRow, "mot_de_passe:compte:marie") is None


def test_one_client_guessing_many_logins_is_locked_out(engine):
    upgrade_database(engine)
    for attempt in range(5):
        security.sign_in(engine, f"inconnu{attempt}", "une phrase au hasard",
                         client="adresse:192.0.2.9", now=T0 + attempt)  # fmt: skip
    with pytest.raises(TooManyAttemptsError):
        security.sign_in(engine, "autre", "une phrase au hasard", client="adresse:192.0.2.9",
                         now=T0 + 6)  # fmt: skip


def test_an_unknown_login_goes_through_the_same_hash_verification(engine, verifications):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="admin")
        access.create_user(session, "oidc@example.org", "O", "staff", None, actor="admin")
        access.create_user(session, "parti", "P", "staff", PASSWORD, actor="admin")
        access.update_user(session, "parti", actor="admin", active=False)
    for login in ("marie", "personne", "oidc@example.org", "parti"):
        verifications.clear()
        with Session(engine) as session, session.begin():
            assert access.authenticate(session, login, "pas le bon mot de passe") is None
        assert len(verifications) == 1, login
        assert verifications[0].startswith("$argon2id$v=19$m=65536,t=3,p=4$"), login
    with Session(engine) as session, session.begin():  # a deactivated account stays out
        assert access.authenticate(session, "parti", PASSWORD) is None


# --- finding 12: sessions re-checked on every page --------------------------------------------


def _lookup(engine):
    def accounts(login: str):
        with Session(engine) as session:
            return access.account_user(session, login)

    return accounts


@pytest.mark.parametrize(
    "change",
    [{"active": False}, {"role": "admin"}, {"password": "une autre phrase de passe"}],
    ids=["desactive", "role-change", "mot-de-passe-change"],
)
def test_an_account_change_ends_its_open_sessions(engine, change):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="admin")
    user = security.sign_in(engine, "marie", PASSWORD, now=T0)
    state = {SESSION_KEY: session_entry(user, now=T0)}
    assert current_user(state, {}, accounts=_lookup(engine), now=T0 + 60).role is Role.STAFF
    with Session(engine) as session, session.begin():
        access.update_user(session, "marie", actor="admin", **change)
    assert current_user(state, {}, accounts=_lookup(engine), now=T0 + 120) == PUBLIC_USER
    assert SESSION_KEY not in state and "Reconnectez-vous" in state[SIGNED_OUT_KEY]


def test_idle_sessions_are_signed_out(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", None, actor="admin")
        user = access.account_user(session, "marie")
    state = {SESSION_KEY: session_entry(user, now=T0)}
    check = {"accounts": _lookup(engine), "idle_seconds": 30 * 60}
    # Each page run moves the last activity: 29 minutes apart, twice, is not idle.
    assert current_user(state, {}, now=T0 + 29 * 60, **check).role is Role.STAFF
    assert current_user(state, {}, now=T0 + 58 * 60, **check).role is Role.STAFF
    assert current_user(state, {}, now=T0 + 89 * 60, **check) == PUBLIC_USER
    assert "30 minutes d'inactivité" in state[SIGNED_OUT_KEY]
    # A session stored without its sign-in time (or forged) is not trusted either.
    forged = {SESSION_KEY: {"login": "marie", "display_name": "M", "role": "admin"}}
    assert current_user(forged, {}, now=T0, **check) == PUBLIC_USER


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'observatoire.sqlite'}"
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", url)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OBSERVATOIRE_TERRITORY", "test-territoire")
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    night = make_night(engine)
    yield engine, night
    engine.dispose()


def test_a_deactivated_admin_loses_the_admin_page_on_the_next_run(app_db):
    engine, _ = app_db
    with Session(engine) as session, session.begin():
        access.create_user(session, "alex", "Alex", "admin", None, actor="t")
        alex = access.account_user(session, "alex")
    app = AppTest.from_file(str(REPO / "dashboards" / "admin.py"), default_timeout=60)
    app.session_state[SESSION_KEY] = session_entry(alex)
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Administration"
    with Session(engine) as session, session.begin():
        access.update_user(session, "alex", actor="autre", active=False)
    app.run()
    assert not app.title and "Accès réservé" in app.error[0].value
    assert "désactivé" in app.error[0].value
    assert SESSION_KEY not in app.session_state


def test_a_demoted_admin_loses_the_admin_navigation_on_the_next_run(app_db):
    engine, _ = app_db
    with Session(engine) as session, session.begin():
        access.create_user(session, "alex", "Alex", "admin", None, actor="t")
        alex = access.account_user(session, "alex")
    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    app.session_state[SESSION_KEY] = session_entry(alex)
    app.run()
    assert "(Administrateur" in app.sidebar.caption[0].value
    with Session(engine) as session, session.begin():
        access.update_user(session, "alex", actor="autre", role="staff")
    app.run()
    assert not app.exception, app.exception
    assert SESSION_KEY not in app.session_state
    assert not [c for c in app.sidebar.caption if "Connecté" in c.value]


def test_signing_out_drops_the_team_code_from_the_address(app_db):
    _, night = app_db
    app = AppTest.from_file(str(REPO / "dashboards" / "connexion.py"), default_timeout=60)
    app.query_params["equipe"] = night.teams[0]
    app.run()
    assert any("Connecté" in s.value for s in app.success)
    next(b for b in app.button if b.label == "Se déconnecter").click().run()
    assert "equipe" not in app.query_params
    assert not app.success and app.text_input[0].label == "Identifiant"


@pytest.mark.parametrize("claim", ["unknown", "closed"])
def test_a_team_code_in_the_address_is_checked_before_anyone_is_shown_connected(app_db,
                                                                               claim):
    """``/connexion?equipe=ANYTHING`` said "Connecté : Équipe ANYTHING": the code of the
    address is now checked like a typed one (known, campaign not locked, lockout)."""
    from observatoire.countnight import lifecycle

    engine, night = app_db
    code = "ZZZZZZ" if claim == "unknown" else night.teams[0]
    if claim == "closed":
        lifecycle.lock_campaign(engine, night.campaign_id, "t")
    for script in ("dashboards/connexion.py", "streamlit_app.py"):
        app = AppTest.from_file(str(REPO / script), default_timeout=60)
        app.query_params["equipe"] = code
        app.run()
        assert not app.exception, app.exception
        shown = [e.value for e in [*app.success, *app.sidebar.caption] if "Connecté" in e.value]
        assert shown == [], (script, shown)
    app = AppTest.from_file(str(REPO / "dashboards" / "connexion.py"), default_timeout=60)
    app.query_params["equipe"] = code
    app.run()
    assert "refusé" in app.error[0].value and code in app.error[0].value
    assert app.text_input[0].label == "Identifiant"  # the sign-in forms, as for the public
    assert "equipe" not in app.query_params and SESSION_KEY not in app.session_state
    with Session(engine) as session:
        failed = session.scalars(select(AuditLogRow).where(
            AuditLogRow.action == "login.team_failed")).all()
    assert [a for a in failed if a.details.get("page") == "connexion"]


def test_a_team_code_in_the_address_is_locked_out_like_a_typed_one(app_db):
    app = AppTest.from_file(str(REPO / "dashboards" / "connexion.py"), default_timeout=60)
    for _ in range(TEAM_CODE_THROTTLE.free_failures + 1):
        app.query_params["equipe"] = "ZZZZZZ"
        app.run()
    assert "Trop d'essais" in app.error[0].value
    assert not [s for s in app.success if "Connecté" in s.value]


def test_a_valid_team_code_in_the_address_signs_the_volunteer_in(app_db):
    _, night = app_db
    app = AppTest.from_file(str(REPO / "dashboards" / "connexion.py"), default_timeout=60)
    app.query_params["equipe"] = night.teams[0].lower()
    app.run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success if "Connecté" in s.value]
    assert app.session_state["team_code"] == night.teams[0]


def test_the_client_is_the_connection_then_a_local_proxy_then_the_session():
    assert security.client_key("203.0.113.7", "10.0.0.1", "s1") == "adresse:203.0.113.7"
    # From this machine (a local reverse proxy): the address the proxy appended, not the
    # entries the client itself may have written before it.
    assert security.client_key(None, "6.6.6.6, 198.51.100.4", "s1") == "adresse:198.51.100.4"
    assert security.client_key(None, None, "s1") == "session:s1"


def test_the_sign_in_page_signs_in_then_refuses_a_locked_login(app_db):
    engine, _ = app_db
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
    app = AppTest.from_file(str(REPO / "dashboards" / "connexion.py"), default_timeout=60)
    app.run()
    app.text_input[0].input("marie")
    for _ in range(PASSWORD_THROTTLE.free_failures):
        app.text_input[1].input("mauvais mot de passe")
        app.button[0].click().run()
        assert "incorrect" in app.error[0].value
    app.text_input[1].input(PASSWORD)
    app.button[0].click().run()
    assert "Trop d'essais" in app.error[0].value and SESSION_KEY not in app.session_state


def test_wrong_codes_on_the_entry_and_team_leader_pages_are_audited_and_locked(app_db):
    engine, night = app_db
    saisie = AppTest.from_file(str(REPO / "dashboards" / "saisie.py"), default_timeout=60)
    saisie.run()
    for _ in range(TEAM_CODE_THROTTLE.free_failures):
        saisie.text_input[0].input("ZZZZZZ")
        saisie.button[0].click().run()
        assert "Code d'équipe inconnu" in saisie.error[0].value
    saisie.text_input[0].input(night.teams[0])  # the right code, too late
    saisie.button[0].click().run()
    assert "Trop d'essais" in saisie.error[0].value
    assert "team_code" not in saisie.session_state
    # The team leader's page, opened from an address with a guessed code.
    terrain = AppTest.from_file(str(REPO / "dashboards" / "terrain.py"), default_timeout=60)
    terrain.query_params["equipe"] = "YYYYYY"
    terrain.run()
    assert "Code d'équipe inconnu" in terrain.error[0].value
    pages = [d["page"] for d in _details(engine, "login.team_failed")]
    assert pages == ["saisie"] * 5 + ["terrain"]
    assert [d["page"] for d in _details(engine, "login.team_locked")] == ["saisie"]


def test_pages_read_the_user_only_through_the_checked_path():
    """`current_user` / `require_role` re-check the account only when given ``accounts``:
    pages go through `dashboards.common`, and the unchecked call refuses Streamlit's state."""
    for path in [REPO / "streamlit_app.py", *sorted((REPO / "dashboards").glob("*.py"))]:
        if path.name == "common.py":
            continue
        source = path.read_text(encoding="utf-8")
        assert "current_user(" not in source and "require_role(" not in source, path.name


# --- finding 16: deployment ---------------------------------------------------------------------


def test_the_sqlite_file_and_its_folder_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "donnees" / "observatoire.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        upgrade_database(engine)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            wal = Path(f"{path}-wal")
            assert not wal.exists() or stat.S_IMODE(wal.stat().st_mode) == 0o600
        engine.dispose()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        # A file left world-readable by an earlier version is tightened when opened.
        os.chmod(path, 0o644)
        make_engine(f"sqlite:///{path}").dispose()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaaaa", "123456789012", "motdepasse123", "azertyuiopqsd", "abcabcabcabc",
     "Password2024!", "098765432109", "marie.martin2025", "court", "P@ssw0rd123456",
     "S0l3il!2025!!", "@zerty-123456", "M4rs3ill3#2025", "Pa$$w0rdPa$$w0rd", "1l0v3y0u2025!"],
)
def test_trivial_passwords_are_refused_in_french(password):
    assert password_problem(password, "marie.martin") is not None
    with pytest.raises(WeakPasswordError, match="Mot de passe (refusé|trop court)"):
        hash_password(password, "marie.martin")


def test_a_common_password_written_with_lookalikes_is_refused_saying_why():
    problem = password_problem("P@ssw0rd123456", "marie.martin")
    assert "« password »" in problem and "chiffres ou des signes" in problem


@pytest.mark.parametrize("password", [PASSWORD, "cheval correct agrafe batterie",
                                      "Vélo-rouge-sous-7-parapluies", "Tr0ub4dor&3-grange",
                                      "4 chats gris au 7e étage"])
def test_passphrases_are_accepted(password):
    assert password_problem(password, "marie") is None


def test_an_account_cannot_be_given_a_trivial_password(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        with pytest.raises(WeakPasswordError):
            access.create_user(session, "marie", "Marie", "staff", "motdepasse123", actor="a")
        access.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="a")
        with pytest.raises(WeakPasswordError, match="identifiant"):
            access.update_user(session, "marie", actor="a", password="marie-marie-2025")


def test_an_account_set_under_an_older_rule_still_signs_in_and_is_rehashed(engine):
    """A password accepted before the policy (and hashed with weaker parameters) signs in;
    its hash moves to today's parameters without the policy refusing it."""
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "ancien", "A", "staff", None, actor="a")
        access.get_user(session, "ancien").password_hash = argon2.PasswordHasher(
            time_cost=1, memory_cost=8192).hash("aaaaaaaaaaaa")  # fmt: skip
    user = security.sign_in(engine, "ancien", "aaaaaaaaaaaa", now=T0)
    assert user.role is Role.STAFF
    with Session(engine) as session:
        assert "m=65536,t=3" in access.get_user(session, "ancien").password_hash


def _cli(args: list[str], data_dir: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATOIRE_")}
    env["OBSERVATOIRE_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "observatoire.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


def test_user_add_reads_the_password_from_stdin_never_from_an_argument(tmp_path):
    help_text = _cli(["user", "add", "--help"], tmp_path).stdout
    assert "--password-stdin" in help_text
    assert "--password " not in help_text and "--password\n" not in help_text
    refused = _cli(["user", "add", "alice", "--password", PASSWORD], tmp_path)
    assert refused.returncode != 0 and "entrée standard" in refused.stderr
    assert "Traceback" not in refused.stderr
    weak = _cli(["user", "add", "alice", "--password-stdin"], tmp_path, "aaaaaaaaaaaa\n")
    assert weak.returncode != 0 and "Mot de passe refusé" in weak.stderr
    made = _cli(["user", "add", "alice", "--role", "admin", "--password-stdin"], tmp_path,
                f"{PASSWORD}\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'observatoire.sqlite'}")
    with Session(engine) as session, session.begin():
        assert access.authenticate(session, "alice", PASSWORD).role is Role.ADMIN
    engine.dispose()


def test_user_add_with_a_piped_password_but_no_password_stdin_says_what_to_do(tmp_path):
    """A script piping the password without --password-stdin: getpass falls back to reading
    stdin with the password echoed, then the second prompt meets the end of input."""
    piped = _cli(["user", "add", "alice", "--role", "admin"], tmp_path, f"{PASSWORD}\n")
    assert piped.returncode == 2
    assert "--password-stdin" in piped.stderr
    assert "inattendue" not in piped.stderr and "EOFError" not in piped.stderr
    assert PASSWORD not in piped.stderr and "echoed" not in piped.stderr


def test_the_served_configuration_hides_error_details():
    from streamlit.config import ShowErrorDetailsConfigOptions

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
    assert config["server"]["enableXsrfProtection"] is True


def test_migration_0013_creates_the_table_the_model_describes(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from observatoire.store.schema import metadata

    upgrade_database(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in diff if "sign_in_throttle" in str(d)] == []


def test_every_http_response_carries_the_security_headers():
    import asyncio

    from observatoire.web import SECURITY_HEADERS, SecurityHeaders

    sent = []

    async def page(scope, receive, send):  # noqa: ANN001 - a bare ASGI application
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html"),
                                (b"x-frame-options", b"SAMEORIGIN")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"<html></html>"})

    async def collect(message):  # noqa: ANN001
        sent.append(message)

    # In a thread of its own: earlier tests of the suite may leave an event loop running in
    # this one (asyncio.run refuses to start inside it).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run,
                    SecurityHeaders(page)({"type": "http", "path": "/"}, None, collect)).result()
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "SAMEORIGIN"  # what the app set is kept
    assert set(SECURITY_HEADERS) <= set(headers)
    assert sent[1]["body"] == b"<html></html>"


def test_the_served_entry_point_is_the_app_behind_the_headers():
    """``observatoire app`` runs ``serve.py``, which Streamlit runs as an ASGI app."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    from observatoire.cli import APP_SCRIPT

    assert APP_SCRIPT == REPO / "serve.py"
    found = discover_asgi_app(APP_SCRIPT)
    assert found.is_asgi_app and found.app_name == "app"
    source = APP_SCRIPT.read_text(encoding="utf-8")
    assert 'st.App(\n    "streamlit_app.py",\n    middleware=[Middleware(SecurityHeaders), ' \
           'Middleware(DownloadsForTheirBrowser)],\n)' in source


def _served(middleware, path: str, cookie: str | None = None, method: str = "GET",
            extra: tuple = ()) -> tuple[int, dict[str, str], bytes, list]:  # fmt: skip
    """``path`` requested through ``middleware``: the status, headers and body sent, and the
    requests that reached the app behind it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    sent = []
    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "method": method, "path": path,
             "headers": headers + [(b"accept-encoding", b"gzip"), *extra]}  # fmt: skip

    async def collect(message):  # noqa: ANN001
        sent.append(message)

    with ThreadPoolExecutor(1) as pool:  # see test_every_http_response_carries_the_security_headers
        pool.submit(asyncio.run, middleware(scope, None, collect)).result()
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body,
            middleware.app.requests)  # fmt: skip


class _Media:
    """An ASGI stand-in for Streamlit: every /media/ address serves FILE."""

    FILE = "Code d'équipe;Équipe\nK7QX2M;Équipe 1\n"

    def __init__(self) -> None:
        self.requests = []

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        self.requests.append(scope)
        body = self.FILE.encode() if scope["path"].startswith("/media/") else b"<html></html>"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/csv")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def test_a_browser_gets_a_private_cookie_of_its_own():
    from observatoire.web import BROWSER_COOKIE, DownloadGrants, DownloadsForTheirBrowser

    middleware = DownloadsForTheirBrowser(_Media(), DownloadGrants())
    status, headers, _, _ = _served(middleware, "/")
    cookie = headers["set-cookie"]
    assert status == 200 and cookie.startswith(f"{BROWSER_COOKIE}=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) == 32
    assert value != _served(middleware, "/")[1]["set-cookie"].split(";")[0].split("=", 1)[1]
    # A browser that holds one keeps it, among cookies of other applications of the host.
    assert "set-cookie" not in _served(middleware, "/", f"{BROWSER_COOKIE}={value}")[1]
    others = f'autre="a b\\"c; x=[1, 2]; {BROWSER_COOKIE}={value}; _streamlit_xsrf=2|a|b|1'
    assert "set-cookie" not in _served(middleware, "/", others)[1]


def test_a_built_file_is_served_only_to_the_browser_it_was_granted_to():
    from observatoire.web import BROWSER_COOKIE, DownloadGrants, DownloadsForTheirBrowser

    grants = DownloadGrants(seconds=300)
    middleware = DownloadsForTheirBrowser(_Media(), grants)
    mine, theirs = f"{BROWSER_COOKIE}=a1", f"{BROWSER_COOKIE}=b2"
    # Nothing granted yet: refused, for every browser.
    assert _served(middleware, "/media/f.csv", mine)[0] == 404
    grants.grant("a1", _Media.FILE)
    status, _, body, reached = _served(middleware, "/media/f.csv", mine)
    assert status == 200 and body == _Media.FILE.encode()
    # The file is compared uncompressed and whole.
    assert not {k for k, _ in reached[-1]["headers"]} & {b"accept-encoding", b"range"}
    # Fetched twice (Chromium does), and its HEAD, by the same browser: served.
    assert _served(middleware, "/media/f.csv", mine)[0] == 200
    assert _served(middleware, "/media/f.csv", mine, method="HEAD")[0] == 200
    # Another browser, or a client without the cookie: nothing of the file.
    for cookie, code in ((theirs, 404), (None, 403), ("autre=a1", 403)):
        status, _, body, _ = _served(middleware, "/media/f.csv", cookie)
        assert status == code and b"K7QX2M" not in body
    # Other bytes at another address are not covered by the grant.
    _Media.FILE, kept = "autre fichier", _Media.FILE
    try:
        assert _served(middleware, "/media/g.csv", mine)[0] == 404
    finally:
        _Media.FILE = kept


def test_a_download_grant_expires():
    from observatoire.web import DownloadGrants

    grants = DownloadGrants(seconds=300)
    grants.grant("a1", b"contenu", now=1000.0)
    assert grants.allows_body("a1", "/media/x", b"contenu", now=1299.0)
    assert grants.allows_path("a1", "/media/x", now=1299.0)
    assert not grants.allows_body("a1", "/media/x", b"contenu", now=1300.0)
    assert not grants.allows_path("a1", "/media/x", now=1300.0)
    assert not grants.allows_body("b2", "/media/x", b"contenu", now=1001.0)
    grants.grant(None, b"contenu", now=1000.0)  # no cookie: nothing granted
    assert not grants.allows_body("", "/media/x", b"contenu", now=1001.0)
