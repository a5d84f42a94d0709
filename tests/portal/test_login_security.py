"""Attacks on the login, replayed: the admin's login, user name variants, reverse proxies,
locking someone else out, password reset requests, and flooding the audit chain."""

import importlib
import time

import pytest
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import Client, RequestFactory
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse

from portal.models import AuditEvent, User
from portal.services import user_create
from tests.factories import PASSWORD, UserFactory

ATTACKER = "203.0.113.66"
VICTIM_HOME = "198.51.100.7"
PROXY = "10.0.0.2"
LOCKED = "Too many failed logins"


def attempt(username, password, *, address=ATTACKER, via_proxy=False, path=None, client=None):
    """One login attempt from ``address``, in a browser of its own; returns (response, client)."""
    client = client or Client()
    meta = {"REMOTE_ADDR": address}
    if via_proxy:
        meta = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": address}
    data = {"username": username, "password": password}
    if path:
        data["next"] = "/admin/"
    response = client.post(path or reverse("login"), data, **meta)
    return response, client


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


@pytest.fixture
def victim(db):
    return UserFactory(username="victim1", email="victim@example.org", roles=["researcher"])


# -- The Django admin's login goes through the same throttle ---------------------------------


def test_the_admin_login_stops_guessing(personas):
    for _ in range(5):
        response, _client = attempt("hdab_admin", "wrong", path="/admin/login/")
        assert response.status_code == 200
    response, client = attempt("hdab_admin", PASSWORD, path="/admin/login/")
    assert LOCKED in response.content.decode()
    assert not signed_in(client)
    # The same person from their own address is not affected.
    response, client = attempt("hdab_admin", PASSWORD, address=VICTIM_HOME, path="/admin/login/")
    assert response.status_code == 302 and signed_in(client)


def test_a_locked_staff_account_is_not_signed_in_at_the_admin(personas):
    for _ in range(5):
        attempt("hdab_admin", "wrong")  # the portal's own login page
    response, client = attempt("hdab_admin", PASSWORD, path="/admin/login/")
    assert LOCKED in response.content.decode()
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


# -- One spelling of each user name -----------------------------------------------------------


def test_a_full_width_variant_is_the_same_failure_counter(victim):
    for _ in range(4):
        attempt("victim1", "wrong")
    attempt("ｖｉｃｔｉｍ１", "wrong")  # the fifth failure, spelt differently
    for spelling in ("victim1", "VICTIM1", "ｖｉｃｔｉｍ１"):
        response, client = attempt(spelling, PASSWORD)
        assert LOCKED in response.content.decode(), spelling
        assert not signed_in(client)


def test_each_spelling_signs_in_to_the_one_account(victim):
    for spelling in ("victim1", "Victim1", "ｖｉｃｔｉｍ１", "ＶＩＣＴＩＭ１"):
        response, client = attempt(spelling, PASSWORD)
        assert response.status_code == 302, spelling
        assert client.session["_auth_user_id"] == str(victim.pk)


def test_no_second_account_can_take_a_variant_of_a_name(victim):
    with pytest.raises(ValidationError) as refused:
        user_create(username="ｖｉｃｔｉｍ１", email="other@example.org")
    assert "username" in refused.value.message_dict
    assert User.objects.count() == 1
    created = user_create(username="Ｎｅｗ.Ｐｅｒｓｏｎ", email="new@example.org")
    assert created.username == "new.person"


def test_the_admin_stores_one_spelling_and_refuses_a_variant(personas, victim):
    client = Client()
    client.force_login(personas["hdab_admin"])
    form = {"username": "ＶＩＣＴＩＭ１", "usable_password": "false"}
    for inline in ("role_assignments", "external_identities"):
        form |= {f"{inline}-TOTAL_FORMS": "0", f"{inline}-INITIAL_FORMS": "0"}
    response = client.post("/admin/portal/user/add/", form)
    assert response.status_code == 200 and "already exists" in response.content.decode()
    response = client.post("/admin/portal/user/add/", {**form, "username": "ＢＯＢ"})
    assert response.status_code == 302
    assert User.objects.filter(username="bob").exists()


def test_createsuperuser_stores_one_spelling(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-1")
    call_command("createsuperuser", username="Ａｄｍｉｎ", email="a@example.org", interactive=False)
    assert User.objects.get().username == "admin"
    with pytest.raises(Exception, match="already taken"):
        call_command("createsuperuser", username="ADMIN", email="b@example.org", interactive=False)


def _normalise_existing():
    migration = importlib.import_module("portal.migrations.0004_normalise_usernames")
    migration.normalise_usernames(apps, connection.schema_editor())
    return migration


def test_the_migration_normalises_existing_names(db):
    person = UserFactory(username="placeholder")
    User.objects.filter(pk=person.pk).update(username="Ｍｉｘｅｄ.Case")  # as stored before
    _normalise_existing()
    assert User.objects.get(pk=person.pk).username == "mixed.case"


def test_the_migration_refuses_names_that_would_collide(db):
    first, second = UserFactory(username="one"), UserFactory(username="two")
    User.objects.filter(pk=first.pk).update(username="Victim1")
    User.objects.filter(pk=second.pk).update(username="ｖｉｃｔｉｍ１")
    migration = importlib.import_module("portal.migrations.0004_normalise_usernames")
    with pytest.raises(migration.UsernameCollision) as refused:
        _normalise_existing()
    message = str(refused.value)
    assert f"id {first.pk} ('Victim1')" in message and f"id {second.pk}" in message
    assert "Rename" in message
    # Nothing was changed half-way.
    assert set(User.objects.values_list("username", flat=True)) == {"Victim1", "ｖｉｃｔｉｍ１"}


# -- The client's address behind the reverse proxy ---------------------------------------------


def test_failures_behind_the_proxy_lock_only_the_attacker(personas, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    for n in range(50):
        attempt(f"nobody{n}", "wrong", address=ATTACKER, via_proxy=True)
    response, client = attempt("citizen", PASSWORD, address=ATTACKER, via_proxy=True)
    assert LOCKED in response.content.decode() and not signed_in(client)
    # Everyone else comes through the same proxy, and is not locked out.
    response, client = attempt("researcher", PASSWORD, address=VICTIM_HOME, via_proxy=True)
    assert response.status_code == 302 and signed_in(client)


def test_a_forged_forwarded_for_does_not_change_the_address(personas, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    for n in range(50):
        # Sent directly, not through the proxy: the header is the attacker's own invention.
        Client().post(
            reverse("login"),
            {"username": f"nobody{n}", "password": "wrong"},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    response, client = attempt("citizen", PASSWORD, address=ATTACKER)
    assert LOCKED in response.content.decode() and not signed_in(client)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "", "203.0.113.9"),
        ("203.0.113.9", "192.0.2.1", "203.0.113.9"),  # not from a proxy: header ignored
        ("10.0.0.2", "192.0.2.1", "192.0.2.1"),
        ("10.0.0.2", "6.6.6.6, 192.0.2.1", "192.0.2.1"),  # the client wrote 6.6.6.6
        ("10.0.0.2", "192.0.2.1, 10.0.0.7", "192.0.2.1"),  # two proxies in the trusted network
        ("10.0.0.2", "garbage, 10.0.0.7", "10.0.0.7"),  # unreadable: stop at the last proxy
        ("10.0.0.2", "", "10.0.0.2"),
        ("::ffff:10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
    ],
)
def test_it_reads_the_client_address_through_trusted_proxies_only(
    settings, remote, forwarded, expected
):
    from portal.login_security import client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# -- Nobody locks someone else out -----------------------------------------------------------


def test_an_attacker_does_not_lock_the_owner_out(victim):
    for _ in range(30):
        attempt("victim1", "wrong", address=ATTACKER)
    response, client = attempt("victim1", PASSWORD, address=ATTACKER)
    assert LOCKED in response.content.decode() and not signed_in(client)
    response, client = attempt("victim1", PASSWORD, address=VICTIM_HOME)
    assert response.status_code == 302 and signed_in(client)


def test_a_distributed_attack_spares_the_owner_at_their_usual_address(victim, settings):
    settings.LOGIN_FAILURE_ACCOUNT_LIMIT = 20
    attempt("victim1", PASSWORD, address=VICTIM_HOME)  # the owner signed in from home before
    for n in range(25):
        attempt("victim1", "wrong", address=f"192.0.2.{n}")
    # A new address now has to wait ...
    response, client = attempt("victim1", PASSWORD, address="192.0.2.200")
    assert LOCKED in response.content.decode() and not signed_in(client)
    # ... but not the owner at home.
    response, client = attempt("victim1", PASSWORD, address=VICTIM_HOME)
    assert response.status_code == 302 and signed_in(client)
    lock = AuditEvent.objects.get(
        action="portal.session.locked_out", details__locks__has_key="account"
    )
    assert lock.details["username"] == "victim1"


def test_each_repeated_lock_of_a_pair_lasts_twice_as_long(victim, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    lengths = []
    for _round in range(3):
        for _ in range(5):
            attempt("victim1", "wrong")
        response, _client = attempt("victim1", PASSWORD)
        assert LOCKED in response.content.decode()
        lengths.append(
            AuditEvent.objects.filter(action="portal.session.locked_out")
            .order_by("-seq")
            .first()
            .details["locks"]["account_address"]
        )
        time.sleep(lengths[-1] + 0.1)
    assert lengths == [1, 2, 4]
    # A success clears the pair: the next lock is short again.
    attempt("victim1", PASSWORD)
    for _ in range(5):
        attempt("victim1", "wrong")
    last = AuditEvent.objects.filter(action="portal.session.locked_out").order_by("-seq").first()
    assert last.details["locks"]["account_address"] == 1


# -- Password reset requests -------------------------------------------------------------------


def reset(email, address=ATTACKER):
    return Client().post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_reset_requests_are_limited_per_address(victim):
    for n in range(10):
        assert reset(f"someone{n}@example.org").status_code == 302
    response = reset("victim@example.org")
    assert response.status_code == 429
    assert "Too many password reset requests" in response.content.decode()
    assert len(mail.outbox) == 0
    assert reset("victim@example.org", address=VICTIM_HOME).status_code == 302
    assert len(mail.outbox) == 1


def test_reset_requests_are_limited_per_email_whatever_its_spelling(victim):
    for n, spelling in enumerate(
        ["victim@example.org", "Victim@Example.org", "VICTIM@example.org"]
    ):
        assert reset(spelling, address=f"192.0.2.{n}").status_code == 302
    response = reset("victim@EXAMPLE.ORG", address="192.0.2.99")
    assert response.status_code == 429
    assert len(mail.outbox) == 3


def _request_reset(email):
    """Run the reset page for ``email`` up to the moment its response is sent; returns the
    response (not yet closed), the queries made and the templates rendered."""
    request = RequestFactory().post(reverse("password_reset"), {"email": email})
    request._dont_enforce_csrf_checks = True
    templates = []

    def rendered(sender, template, context, **kwargs):
        templates.append(template.name)

    template_rendered.connect(rendered)
    try:
        with CaptureQueriesContext(connection) as queries:
            response = resolve(reverse("password_reset")).func(request)
    finally:
        template_rendered.disconnect(rendered)
    return response, [q["sql"] for q in queries.captured_queries], templates


def test_a_reset_request_does_the_same_work_whether_or_not_the_email_exists(victim):
    known, known_queries, known_templates = _request_reset("victim@example.org")
    unknown, unknown_queries, unknown_templates = _request_reset("nobody@example.org")

    # Up to the response: the same answer, the same queries, the same templates, no mail.
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(known_queries) == len(unknown_queries)
    assert known_templates == unknown_templates
    assert mail.outbox == []
    # The work that depends on the answer happens once the response has gone out. (As Django's
    # test client does, keep the test's database connection open when the request finishes.)
    request_finished.disconnect(close_old_connections)
    try:
        unknown.close()
        assert mail.outbox == []
        known.close()
    finally:
        request_finished.connect(close_old_connections)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["victim@example.org"]


# -- The audit chain records attacks without being filled by them -----------------------------


def test_a_thousand_failures_on_one_account_add_a_handful_of_events(victim):
    before = AuditEvent.objects.count()
    for _ in range(1000):
        attempt("victim1", "wrong", address=ATTACKER)
    # The first failure, a summary of the next three, the lock; nothing for the 995 refused.
    assert AuditEvent.objects.count() - before == 3
    failed = AuditEvent.objects.get(action="portal.session.login_failed")
    locked = AuditEvent.objects.get(action="portal.session.locked_out")
    assert failed.details["username"] == locked.details["username"] == "victim1"
    assert locked.details["failures"] == 5

    # The owner's next login writes down everything that was only counted.
    attempt("victim1", PASSWORD, address=VICTIM_HOME)
    summaries = AuditEvent.objects.filter(action="portal.session.failures_summary")
    assert [e.details for e in summaries.order_by("seq")] == [
        {"username": "victim1", "attempts": 3},
        {"username": "victim1", "attempts": 995},
    ]
    assert actions()[-2:] in (
        ["portal.session.login", "portal.session.failures_summary"],
        ["portal.session.failures_summary", "portal.session.login"],
    )


def test_a_thousand_failures_from_everywhere_stay_within_the_budget(victim, settings):
    settings.LOGIN_AUDIT_EVENTS_PER_WINDOW = 40
    before = AuditEvent.objects.count()
    for n in range(1000):
        address = f"10.{n // 250}.{n % 250}.1"
        attempt(f"sprayed{n}", "wrong", address=address)
    added = AuditEvent.objects.count() - before
    assert added <= 41
    assert actions().count("portal.session.login_failed") == 40
    throttled = AuditEvent.objects.get(action="portal.session.failures_throttled")
    assert throttled.details["limit"] == 40

    attempt("victim1", PASSWORD, address=VICTIM_HOME)
    summary = AuditEvent.objects.get(action="portal.session.failures_summary")
    assert summary.details["kind"] == "login" and summary.details["attempts"] == 960


def test_refused_attempts_while_locked_write_nothing(victim):
    for _ in range(5):
        attempt("victim1", "wrong")
    before = AuditEvent.objects.count()
    for _ in range(50):
        response, _client = attempt("victim1", PASSWORD)
        assert LOCKED in response.content.decode()
    assert AuditEvent.objects.count() == before
    assert actions().count("portal.session.locked_out") == 1


def test_an_administrator_lifts_locks_by_command(victim, settings):
    settings.LOGIN_FAILURE_ACCOUNT_LIMIT = 10
    for _ in range(5):
        attempt("victim1", "wrong")
    call_command("axes_reset_ip_username", ATTACKER, "VICTIM1")
    assert attempt("victim1", PASSWORD)[0].status_code == 302

    for n in range(10):
        attempt("victim1", "wrong", address=f"192.0.2.{n}")
    assert LOCKED in attempt("victim1", PASSWORD, address="192.0.2.77")[0].content.decode()
    call_command("axes_reset_username", "victim1")
    assert attempt("victim1", PASSWORD, address="192.0.2.77")[0].status_code == 302

    for n in range(50):
        attempt(f"nobody{n}", "wrong")
    assert LOCKED in attempt("victim1", PASSWORD)[0].content.decode()
    call_command("axes_reset_ip", ATTACKER)
    assert attempt("victim1", PASSWORD)[0].status_code == 302
