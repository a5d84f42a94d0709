"""Login through OpenID Connect, against a real provider (tests/oidc_provider) run by node.

The portal runs in-process behind Django's test client; the provider is a separate process that
authlib reaches over HTTP for discovery, keys and tokens. The test plays the person's browser:
the test client towards the portal and a ``requests.Session`` towards the provider.
"""

import socket
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from portal.audit import verify_chain
from portal.models import AuditEvent, ExternalIdentity, User
from portal.oidc import external_identity_login
from tests.factories import UserFactory
from tests.portal.conftest import PROVIDER_NAME, REDIRECT_URI

HTTP_TIMEOUT = 10


class Browser:
    """One person's browser: cookies for the portal and, separately, for the provider."""

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.portal = Client()
        self.provider = requests.Session()

    def start(self, next_url: str | None = None) -> str:
        """Click "Log in with …"; returns the provider's authorization URL."""
        url = reverse("oidc_login")
        if next_url is not None:
            url += "?" + urlencode({"next": next_url})
        response = self.portal.get(url)
        assert response.status_code == 302, response.content
        assert response["Location"].startswith(f"{self.issuer}/auth?")
        return response["Location"]

    def at_provider(self, authorization_url: str, account: str = "alice", refuse=False) -> str:
        """Log in (or refuse) at the provider; returns the URL it sends the browser back to."""
        location = authorization_url
        for _ in range(10):
            if location.startswith(REDIRECT_URI):
                return location
            response = self.provider.get(location, allow_redirects=False, timeout=HTTP_TIMEOUT)
            if response.status_code == 200 and "/interaction/" in location:
                assert 'name="login"' in response.text
                action = "abort" if refuse else "login"
                response = self.provider.post(
                    f"{location}/{action}",
                    data={"login": account},
                    allow_redirects=False,
                    timeout=HTTP_TIMEOUT,
                )
            assert response.status_code in (302, 303), response.text
            location = urljoin(location, response.headers["Location"])
        raise AssertionError(f"the provider never sent the browser back (last: {location})")

    def back_at_portal(self, callback_url: str):
        parts = urlsplit(callback_url)
        return self.portal.get(f"{parts.path}?{parts.query}")

    def login(self, account: str = "alice", next_url: str | None = None):
        return self.back_at_portal(self.at_provider(self.start(next_url), account))

    @property
    def user_id(self) -> str | None:
        return self.portal.session.get("_auth_user_id")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {**_query(url), **changes}
    return parts._replace(query=urlencode(query)).geturl()


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def _failures() -> list[str]:
    return [
        e.details["reason"]
        for e in AuditEvent.objects.filter(action="portal.session.oidc_failed").order_by("seq")
    ]


def _assert_refused(browser: Browser, response, text: str = ""):
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Login with {PROVIDER_NAME} failed:" in page
    assert text in page
    assert browser.user_id is None
    assert "portal.session.login" not in _actions()


# -- Logging in, linking and creating people --------------------------------------------------


def test_it_creates_a_person_at_their_first_login(oidc, db):
    browser = Browser(oidc)
    response = browser.login("alice")

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    identity = ExternalIdentity.objects.select_related("user").get()
    user = identity.user
    assert (identity.issuer, identity.subject) == (oidc, "alice")
    assert identity.last_login_at is not None
    assert user.username == "alice"
    assert user.email == "alice@example.org"
    assert (user.first_name, user.last_name) == ("Alice", "Liddell")
    assert user.roles == {"researcher"}
    assert not user.has_usable_password()
    assert browser.user_id == str(user.pk)
    # The dashboard sends the new researcher on to their page.
    landing = browser.portal.get(response["Location"])
    assert landing.status_code == 302 and landing["Location"] == "/dashboard/researcher/"

    assert _actions() == [
        "portal.user.created",
        "portal.role.granted",
        "portal.identity.linked",
        "portal.session.login",
    ]
    created, linked, login = (
        AuditEvent.objects.get(action=a)
        for a in ("portal.user.created", "portal.identity.linked", "portal.session.login")
    )
    assert created.details == {"via": "oidc"}
    assert linked.details == {"issuer": oidc, "via": "new_account"}
    assert linked.actor_label == user.pseudonym
    assert login.details == {"method": "oidc"}
    assert verify_chain().ok


def test_it_logs_a_returning_person_into_the_same_account(oidc, db):
    first = Browser(oidc)
    first.login("alice")
    user = User.objects.get()
    first_seen = ExternalIdentity.objects.get().last_login_at

    second = Browser(oidc)
    response = second.login("alice")

    assert response.status_code == 302
    assert second.user_id == str(user.pk)
    assert User.objects.count() == 1 and ExternalIdentity.objects.count() == 1
    assert ExternalIdentity.objects.get().last_login_at > first_seen
    assert _actions().count("portal.identity.linked") == 1
    assert _actions().count("portal.session.login") == 2


def test_it_links_a_local_account_with_the_same_verified_email(oidc, db):
    local = UserFactory(username="a.liddell", email="Alice@Example.org", roles=["citizen"])
    browser = Browser(oidc)
    response = browser.login("alice")

    assert response.status_code == 302
    assert browser.user_id == str(local.pk)
    assert User.objects.count() == 1
    identity = ExternalIdentity.objects.get()
    assert identity.user == local and identity.subject == "alice"
    assert User.objects.get(pk=local.pk).roles == {"citizen"}  # no role added on linking
    linked = AuditEvent.objects.get(action="portal.identity.linked")
    assert linked.details == {"issuer": oidc, "via": "verified_email"}
    assert "portal.user.created" not in _actions()


def test_it_never_links_by_an_unverified_email(oidc, db):
    local = UserFactory(username="mallory.local", email="mallory@example.org")
    browser = Browser(oidc)
    response = browser.login("mallory")

    assert response.status_code == 302
    new = User.objects.exclude(pk=local.pk).get()
    assert browser.user_id == str(new.pk)
    assert ExternalIdentity.objects.get().user == new
    assert new.username == "mallory"
    assert new.email == ""  # an unverified address is not kept
    assert not local.external_identities.exists()


def test_it_reads_a_verified_email_from_userinfo_when_the_id_token_has_none(oidc, db):
    # The provider releases carol's email only at its userinfo endpoint.
    local = UserFactory(username="c.danvers", email="carol@example.org")
    browser = Browser(oidc)
    browser.login("carol")

    assert browser.user_id == str(local.pk)
    assert ExternalIdentity.objects.get().user == local


def test_it_does_not_link_when_several_people_hold_the_email(oidc, db):
    UserFactory(email="alice@example.org")
    UserFactory(email="ALICE@example.org")
    browser = Browser(oidc)
    browser.login("alice")

    assert User.objects.count() == 3
    assert ExternalIdentity.objects.get().user.username == "alice"


def test_it_invents_a_free_user_name(oidc, db):
    UserFactory(username="Alice", email="someone@example.org")
    browser = Browser(oidc)
    browser.login("alice")
    assert ExternalIdentity.objects.get(subject="alice").user.username == "alice-2"

    # nemo has neither an email nor a preferred user name.
    browser = Browser(oidc)
    browser.login("nemo")
    nemo = ExternalIdentity.objects.get(subject="nemo").user
    assert nemo.username.startswith("oidc-") and len(nemo.username) == len("oidc-") + 12
    assert (nemo.first_name, nemo.last_name, nemo.email) == ("Nemo", "Nobody", "")


def test_it_refuses_a_deactivated_person(oidc, db):
    Browser(oidc).login("alice")
    User.objects.update(is_active=False)

    browser = Browser(oidc)
    response = browser.login("alice")

    assert response.status_code == 400
    assert "deactivated" in response.content.decode()
    assert browser.user_id is None
    assert _failures() == ["account_inactive"]


def test_it_does_not_link_a_person_who_already_has_an_identity_at_the_issuer(db):
    # A provider may hand a former member's address to someone new: do not merge them.
    person = UserFactory(email="shared@example.org")
    ExternalIdentity.objects.create(user=person, issuer="https://id.example", subject="old")
    claims = {"email": "shared@example.org", "email_verified": True}

    result = external_identity_login(issuer="https://id.example", subject="new", claims=claims)

    assert result.how == "new_account" and result.user != person
    assert result.user.email == "shared@example.org"


# -- Where the person lands ---------------------------------------------------------------------


def test_it_returns_to_a_safe_next_page(oidc, db):
    response = Browser(oidc).login("alice", next_url="/dashboard/researcher/?tab=1")
    assert response.status_code == 302 and response["Location"] == "/dashboard/researcher/?tab=1"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_it_ignores_an_unsafe_next_page(oidc, db, next_url):
    browser = Browser(oidc)
    response = browser.login("alice", next_url=next_url)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert browser.user_id is not None


# -- Failures ---------------------------------------------------------------------------------


def test_it_refuses_a_tampered_state(oidc, db):
    browser = Browser(oidc)
    callback = browser.at_provider(browser.start(), "alice")
    state = _query(callback)["state"]

    response = browser.back_at_portal(_with_query(callback, state=state[:-2] + "xx"))
    _assert_refused(browser, response, "not recognised")
    assert _failures() == ["invalid_state"]

    response = browser.back_at_portal(_with_query(callback, state=""))
    _assert_refused(browser, response)
    assert _failures() == ["invalid_state", "invalid_state"]
    assert not User.objects.exists()


def test_it_refuses_a_callback_without_a_login_started_in_this_browser(oidc, db):
    victim = Browser(oidc)
    callback = victim.at_provider(Browser(oidc).start(), "alice")
    response = victim.back_at_portal(callback)
    _assert_refused(victim, response)
    assert _failures() == ["invalid_state"]


def test_it_refuses_an_id_token_with_another_flows_nonce(oidc, db):
    one, two = Browser(oidc), Browser(oidc)
    state_a = _query(one.start())["state"]
    url_b = two.start()
    state_b = _query(url_b)["state"]
    code_b = _query(two.at_provider(url_b, "alice"))["code"]

    # PKCE alone would already stop B's code in session 1 (another code_verifier). Give flow A
    # the verifier of flow B so the code exchange succeeds and only the nonce is left to fail.
    session_one = one.portal.session
    flow_a = session_one[f"_state_oidc_{state_a}"]
    flow_a["data"]["code_verifier"] = two.portal.session[f"_state_oidc_{state_b}"]["data"][
        "code_verifier"
    ]
    session_one[f"_state_oidc_{state_a}"] = flow_a
    session_one.save()

    callback = f"{REDIRECT_URI}?" + urlencode({"code": code_b, "state": state_a, "iss": oidc})
    response = one.back_at_portal(callback)

    _assert_refused(one, response, "could not be verified")
    (reason,) = _failures()
    assert reason.startswith("invalid_id_token:") and "nonce" in reason
    assert not User.objects.exists()


def test_it_reports_a_refusal_at_the_provider(oidc, db):
    browser = Browser(oidc)
    callback = browser.at_provider(browser.start(), "alice", refuse=True)
    assert _query(callback)["error"] == "access_denied"

    response = browser.back_at_portal(callback)

    _assert_refused(browser, response, "the login was refused or cancelled")
    assert _failures() == ["provider_error:access_denied"]
    assert not [k for k, _ in browser.portal.session.items() if k.startswith("_state_oidc_")]


def test_it_reports_a_code_the_provider_does_not_accept(oidc, db):
    browser = Browser(oidc)
    callback = browser.at_provider(browser.start(), "alice")

    response = browser.back_at_portal(_with_query(callback, code="not-a-code"))

    _assert_refused(browser, response, "did not confirm the login")
    assert _failures() == ["token_error:invalid_grant"]


def test_it_refuses_a_response_naming_another_issuer(oidc, db):
    browser = Browser(oidc)
    callback = browser.at_provider(browser.start(), "alice")

    response = browser.back_at_portal(_with_query(callback, iss="https://evil.example"))

    _assert_refused(browser, response)
    assert _failures() == ["token_error:issuer_mismatch"]


@pytest.fixture
def dead_discovery_url():
    """A discovery URL on a port bound to nothing that listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/.well-known/openid-configuration"


def test_it_reports_an_unreachable_provider(oidc, db, settings, dead_discovery_url):
    browser = Browser(oidc)
    callback = browser.at_provider(browser.start(), "alice")
    settings.OIDC_DISCOVERY_URL = dead_discovery_url

    response = browser.back_at_portal(callback)
    _assert_refused(browser, response, "cannot be reached")

    response = browser.portal.get(reverse("oidc_login"))
    assert response.status_code == 502
    assert "cannot be reached" in response.content.decode()
    assert _failures() == ["provider_unreachable", "provider_unreachable"]


def test_it_answers_404_when_no_provider_is_configured(client, db, settings):
    settings.OIDC_DISCOVERY_URL = ""
    assert client.get(reverse("oidc_login")).status_code == 404
    assert client.get(reverse("oidc_callback"), {"code": "x", "state": "y"}).status_code == 404
    assert reverse("oidc_login") not in client.get(reverse("login")).content.decode()


def test_it_offers_the_provider_on_the_login_page(oidc, client, db):
    page = client.get(reverse("login"), {"next": "/dashboard/"}).content.decode()
    assert f"Log in with {PROVIDER_NAME}" in page
    assert reverse("oidc_login") + "?next=/dashboard/" in page
