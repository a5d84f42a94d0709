"""Which accounts single sign-on may link on its own, and how the others are linked: against the
real test provider (tests/oidc_provider), like tests/portal/test_oidc.py."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from portal.models import AuditEvent, ExternalIdentity, User
from tests.factories import PASSWORD, UserFactory
from tests.portal.test_oidc import Browser, _failures

LOCKED = "Too many failed logins"


def _make(kind: str) -> User:
    """A person holding alice's verified email (alice@example.org at the provider)."""
    roles = {
        "hdab_admin": ["hdab_admin"],
        "committee_member": ["committee_member"],
        "node_operator": ["node_operator"],
    }.get(kind, ["researcher"])
    person = UserFactory(username="a.liddell", email="Alice@Example.org", roles=roles)
    if kind == "staff":
        person.is_staff = True
    if kind == "superuser":
        person.is_superuser = True
    person.save()
    if kind == "committee_seat":
        # A researcher sitting on a committee (membership is an object permission).
        from access import services
        from access.permissions import grant_membership

        committee = services.committee_create(actor=None, name="Oslo DAC", decision_rule="chair")
        grant_membership(committee, person, chair=False)
    return person


@pytest.mark.parametrize(
    "kind",
    ["staff", "superuser", "hdab_admin", "committee_member", "node_operator", "committee_seat"],
)
def test_a_verified_email_never_links_a_privileged_account(oidc, db, kind):
    person = _make(kind)
    browser = Browser(oidc)
    response = browser.login("alice")

    assert response.status_code == 400
    page = response.content.decode()
    assert "can only be linked by its owner" in page and reverse("oidc_link") in page
    assert browser.user_id is None
    assert not ExternalIdentity.objects.exists()
    assert list(User.objects.all()) == [person]  # no second account either
    assert _failures() == ["link_requires_owner"]


def test_a_researcher_is_still_linked_by_verified_email(oidc, db):
    person = _make("researcher")
    browser = Browser(oidc)
    assert browser.login("alice").status_code == 302
    assert browser.user_id == str(person.pk)


def _signed_in_locally(oidc, username: str) -> Browser:
    browser = Browser(oidc)
    response = browser.portal.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def test_the_owner_links_their_privileged_account_after_their_password(oidc, db):
    person = _make("hdab_admin")
    browser = _signed_in_locally(oidc, "a.liddell")
    page = browser.portal.get(reverse("oidc_link"))
    assert page.status_code == 200
    assert "Link your Test ID account" in page.content.decode()

    response = browser.portal.post(reverse("oidc_link"), {"password": PASSWORD})
    assert response.status_code == 302
    assert (
        response["Location"].startswith(f"{oidc}/auth?") and "prompt=login" in response["Location"]
    )
    back = browser.back_at_portal(browser.at_provider(response["Location"], "alice"))

    assert back.status_code == 302 and back["Location"] == reverse("oidc_link")
    identity = ExternalIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (person, oidc, "alice")
    linked = AuditEvent.objects.get(action="portal.identity.linked")
    assert linked.details == {"issuer": oidc, "via": "owner", "person": person.pseudonym}
    assert linked.actor_label == person.pseudonym
    assert "alice at" in browser.portal.get(reverse("oidc_link")).content.decode()

    # From now on the provider's login reaches the account.
    elsewhere = Browser(oidc)
    assert elsewhere.login("alice").status_code == 302
    assert elsewhere.user_id == str(person.pk)


def test_linking_needs_the_right_password_and_is_throttled(oidc, db):
    _make("hdab_admin")
    browser = _signed_in_locally(oidc, "a.liddell")
    for _ in range(5):
        response = browser.portal.post(reverse("oidc_link"), {"password": "guess"})
        assert response.status_code == 400
        assert "That is not your portal password" in response.content.decode()
    response = browser.portal.post(reverse("oidc_link"), {"password": PASSWORD})
    assert LOCKED in response.content.decode()
    assert "Location" not in response
    assert not ExternalIdentity.objects.exists()


def test_an_identity_linked_to_someone_else_is_not_moved(oidc, db):
    citizen = UserFactory(username="chiara", email="alice@example.org", roles=["citizen"])
    Browser(oidc).login("alice")  # linked to the citizen by verified email
    UserFactory(username="helena", email="helena@example.org", roles=["hdab_admin"])
    browser = _signed_in_locally(oidc, "helena")

    response = browser.portal.post(reverse("oidc_link"), {"password": PASSWORD})
    back = browser.back_at_portal(browser.at_provider(response["Location"], "alice"))

    assert back.status_code == 302 and back["Location"] == reverse("oidc_link")
    assert (
        "already linked to another portal account"
        in browser.portal.get(reverse("oidc_link")).content.decode()
    )
    assert ExternalIdentity.objects.get().user == citizen
    assert _failures() == ["link_refused:linked_elsewhere"]


def test_the_link_page_is_for_signed_in_people(oidc, client, db):
    response = client.get(reverse("oidc_link"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_administrator_links_an_account_by_command(oidc, db):
    person = _make("committee_member")
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    UserFactory(username="clerk", is_staff=True)
    with pytest.raises(CommandError, match="not an active superuser"):
        call_command("link_external_identity", "a.liddell", oidc, "alice", by="clerk")

    call_command("link_external_identity", "A.Liddell", oidc, "alice", by="root")

    linked = AuditEvent.objects.get(action="portal.identity.linked")
    assert linked.details == {"issuer": oidc, "via": "admin", "person": person.pseudonym}
    assert linked.actor_label == admin.pseudonym
    browser = Browser(oidc)
    assert browser.login("alice").status_code == 302
    assert browser.user_id == str(person.pk)


def test_failed_returns_from_the_provider_do_not_flood_the_audit_chain(oidc, client, db, settings):
    settings.LOGIN_AUDIT_EVENTS_PER_WINDOW = 20
    for _ in range(200):
        client.get(reverse("oidc_callback"), {"error": "access_denied", "state": "x"})
    assert len(_failures()) == 20
    assert AuditEvent.objects.count() == 21
    throttled = AuditEvent.objects.get(action="portal.session.failures_throttled")
    assert throttled.details["kind"] == "oidc"
