"""Login through an OpenID Connect provider (LS Login, Keycloak or any issuer with discovery).

The portal is a confidential client using the authorization code flow with PKCE (S256), a
``state`` bound to the browser session and a ``nonce`` bound to the ID token. authlib checks the
state, exchanges the code and validates the ID token (signature against the provider's JWKS,
``iss``, ``aud``, ``exp`` and ``nonce``); this module then finds or creates the person and logs
them in.

A person is found by their external identity (issuer + subject). The first time an identity is
seen it is linked to the one active person holding the same email address, if and only if the
provider says that address is verified; otherwise a new person is created with
``settings.OIDC_DEFAULT_ROLES``. Settings are read on every request, so the client is rebuilt
when they change.
"""

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass

import requests
from authlib.integrations.django_client import OAuth, OAuthError
from authlib.integrations.django_client.apps import DjangoOAuth2App
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError

from portal.audit import audit_record
from portal.models import ExternalIdentity, User
from portal.services import user_create

logger = logging.getLogger(__name__)

# The name under which authlib keeps a flow's state, nonce and PKCE verifier in the session.
CLIENT_NAME = "oidc"
# Discovery documents and signing keys are fetched again after this long.
METADATA_MAX_AGE = 60 * 60
# Seconds to wait for the provider on each request (discovery, token, keys, userinfo).
HTTP_TIMEOUT = 10
# Claims used to fill in a new person's account.
PROFILE_CLAIMS = ("preferred_username", "given_name", "family_name")

_client_lock = threading.Lock()
# (settings the client was built from, the client, time.monotonic() when it was built)
_client_cache: tuple[tuple, DjangoOAuth2App, float] | None = None


def oidc_enabled() -> bool:
    return bool(settings.OIDC_DISCOVERY_URL)


def _scope() -> str:
    scopes = settings.OIDC_SCOPES
    scopes = scopes.split() if isinstance(scopes, str) else list(scopes)
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    return " ".join(dict.fromkeys(scopes))


def oidc_client() -> DjangoOAuth2App:
    """The authlib client for the current settings.

    authlib keeps the discovery document and the provider's keys on the client, so one client is
    reused while the settings stay the same and for at most ``METADATA_MAX_AGE`` seconds.
    """
    key = (
        settings.OIDC_DISCOVERY_URL,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET,
        _scope(),
    )
    global _client_cache
    with _client_lock:
        if _client_cache is not None:
            cached_key, cached_client, built = _client_cache
            if cached_key == key and time.monotonic() - built < METADATA_MAX_AGE:
                return cached_client
        discovery_url, client_id, client_secret, scope = key
        client = OAuth().register(
            CLIENT_NAME,
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=discovery_url,
            client_kwargs={
                "scope": scope,
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT,
            },
        )
        _client_cache = (key, client, time.monotonic())
        return client


# -- Finding, linking and creating people ----------------------------------------------------


class OidcLoginRefused(Exception):
    """The identity is known, but its person may not log in."""

    def __init__(self, reason: str, message: str, user: User | None = None):
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.user = user


@dataclass(frozen=True)
class OidcLogin:
    user: User
    identity: ExternalIdentity
    # "existing" (known identity), "verified_email" (linked to a person) or "new_account".
    how: str


_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")
_USERNAME_MAX = 150


def _claim_str(claims: dict, name: str, max_length: int = 150) -> str:
    value = claims.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""


def verified_email(claims: dict) -> str:
    """The email address of the claims if the provider says it is verified, else ""."""
    email = _claim_str(claims, "email", 254)
    if not email or claims.get("email_verified") is not True:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email


def _username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def unique_username(issuer: str, subject: str, claims: dict) -> str:
    """A user name no one holds (ignoring case), from ``preferred_username`` when there is one."""
    base = _USERNAME_UNSAFE.sub("", _claim_str(claims, "preferred_username", 500))[:100]
    if not base:
        digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()
        base = f"oidc-{digest[:12]}"
    if not _username_taken(base):
        return base
    for n in range(2, 10):
        candidate = f"{base}-{n}"
        if not _username_taken(candidate):
            return candidate
    while True:
        candidate = f"{base}-{secrets.token_hex(4)}"[:_USERNAME_MAX]
        if not _username_taken(candidate):
            return candidate


def _person_by_verified_email(issuer: str, claims: dict) -> User | None:
    """The one active person holding the claims' verified email, if linking to them is safe.

    A person who already has another identity at the same issuer is not linked again: the
    provider may have handed a former member's address to someone new.
    """
    email = verified_email(claims)
    if not email:
        return None
    people = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
    if len(people) != 1:
        return None
    person = people[0]
    if person.external_identities.filter(issuer=issuer).exists():
        return None
    return person


@transaction.atomic
def external_identity_login(*, issuer: str, subject: str, claims: dict) -> OidcLogin:
    """Find, link or create the person for an identity the provider has just vouched for.

    Raises :class:`OidcLoginRefused` when the identity belongs to a deactivated person.
    """
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    how = "existing"
    if identity is not None:
        user = identity.user
        if not user.is_active:
            raise OidcLoginRefused(
                "account_inactive", _("this account has been deactivated."), user=user
            )
    else:
        user = _person_by_verified_email(issuer, claims)
        how = "verified_email"
        if user is None:
            how = "new_account"
            user = user_create(
                username=unique_username(issuer, subject, claims),
                # An unverified address is not kept: it could be someone else's.
                email=verified_email(claims),
                first_name=_claim_str(claims, "given_name"),
                last_name=_claim_str(claims, "family_name"),
                roles=settings.OIDC_DEFAULT_ROLES,
                via="oidc",
            )
        identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        audit_record(
            "portal.identity.linked",
            actor=user,
            obj=identity,
            details={"issuer": issuer, "via": how},
        )
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["last_login_at"])
    return OidcLogin(user=user, identity=identity, how=how)


# -- Views -------------------------------------------------------------------------------------


def _safe_next(request, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def _error_code(text) -> str:
    """An error code from the provider, reduced to characters safe to show and record."""
    return re.sub(r"[^\w.-]", "", str(text or ""))[:50] or "unknown"


def _failure(request, reason: str, message: str, *, next_url: str = "", status: int = 400):
    """Record the failed login and show the login page with the reason."""
    reason = reason[:200]
    logger.warning("OpenID Connect login failed: %s", reason)
    audit_record("portal.session.oidc_failed", details={"reason": reason})
    messages.error(
        request,
        _("Login with %(provider)s failed: %(message)s")
        % {"provider": settings.OIDC_PROVIDER_NAME, "message": message},
    )
    context = {"form": AuthenticationForm(request), "next": next_url}
    return render(request, "registration/login.html", context, status=status)


@never_cache
@require_GET
def oidc_login(request):
    """Send the browser to the provider, remembering where to go once logged in."""
    if not oidc_enabled():
        raise Http404
    next_url = _safe_next(request, request.GET.get("next"))
    client = oidc_client()
    redirect_uri = request.build_absolute_uri(reverse("oidc_callback"))
    try:
        authorization = client.create_authorization_url(redirect_uri)
    except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
        logger.warning("OpenID Connect provider unavailable: %r", exc)
        return _failure(
            request,
            "provider_unreachable",
            _("the login service cannot be reached. Please try again later."),
            next_url=next_url,
            status=502,
        )
    client.save_authorize_data(request, redirect_uri=redirect_uri, next=next_url, **authorization)
    return HttpResponseRedirect(authorization["url"])


def _provider_claims(client: DjangoOAuth2App, token: dict) -> dict:
    """The ID token's claims, completed from userinfo when the ID token has no email.

    Email and email_verified are always taken together from the same source.
    """
    claims = dict(token["userinfo"])
    metadata = client.load_server_metadata()
    if "email" in claims or not metadata.get("userinfo_endpoint"):
        return claims
    userinfo = dict(client.userinfo(token=token))
    if userinfo.get("sub") != claims.get("sub"):
        raise OAuthError(error="userinfo_mismatch", description="userinfo is for another subject")
    for name in ("email", "email_verified"):
        if name in userinfo:
            claims[name] = userinfo[name]
    for name in PROFILE_CLAIMS:
        if name not in claims and name in userinfo:
            claims[name] = userinfo[name]
    return claims


def _authenticate(request, client: DjangoOAuth2App) -> dict:
    """Run the code exchange and return the provider's claims.

    Raises OAuthError, JoseError, requests.RequestException or ValueError on any failure.
    """
    # Mix-up defence (RFC 9207): a response naming its issuer must name ours. Checked before the
    # code is spent.
    response_issuer = request.GET.get("iss")
    if response_issuer is not None:
        if response_issuer != client.load_server_metadata().get("issuer"):
            state = request.GET.get("state")
            if state:
                client.framework.clear_state_data(request.session, state)
            raise OAuthError(error="issuer_mismatch", description="unexpected iss parameter")
    token = client.authorize_access_token(request)
    if not token.get("userinfo"):
        raise OAuthError(error="no_id_token", description="the provider sent no ID token")
    return _provider_claims(client, token)


@never_cache
@require_GET
def oidc_callback(request):
    """The provider sends the browser back here with a code (or an error)."""
    if not oidc_enabled():
        raise Http404
    client = oidc_client()
    state = request.GET.get("state") or ""
    state_data = client.framework.get_state_data(request.session, state) if state else None
    next_url = _safe_next(request, (state_data or {}).get("next"))

    error = request.GET.get("error")
    if error:
        if state_data is not None:
            client.framework.clear_state_data(request.session, state)
        error = _error_code(error)
        if error == "access_denied":
            message = _("the login was refused or cancelled.")
        else:
            message = _("the login service answered with the error “%(error)s”.") % {"error": error}
        return _failure(request, f"provider_error:{error}", message, next_url=next_url)

    try:
        claims = _authenticate(request, client)
    except OAuthError as exc:
        if exc.error == "mismatching_state":
            reason = "invalid_state"
            message = _(
                "the login request was not recognised (it may have expired or been used "
                "already). Please try again."
            )
        else:
            code = _error_code(exc.error)
            reason = f"token_error:{code}"
            message = _("the login service did not confirm the login (%(error)s).") % {
                "error": code
            }
        return _failure(request, reason, message, next_url=next_url)
    except JoseError as exc:
        return _failure(
            request,
            f"invalid_id_token:{exc.error}:{exc.description}",
            _("the identity token could not be verified."),
            next_url=next_url,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        logger.warning("OpenID Connect provider unreachable: %r", exc)
        return _failure(
            request,
            "provider_unreachable",
            _("the login service cannot be reached. Please try again later."),
            next_url=next_url,
        )
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OpenID Connect provider error: %r", exc)
        return _failure(
            request,
            "provider_http_error",
            _("the login service gave an unexpected answer."),
            next_url=next_url,
        )

    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer or not subject:
        return _failure(
            request, "missing_claims", _("the identity token is incomplete."), next_url=next_url
        )
    try:
        try:
            result = external_identity_login(issuer=issuer, subject=subject, claims=claims)
        except IntegrityError:
            # The same identity logged in twice at once and the other request linked it first.
            result = external_identity_login(issuer=issuer, subject=subject, claims=claims)
    except OidcLoginRefused as exc:
        return _failure(request, exc.reason, exc.message, next_url=next_url)

    request.login_method = "oidc"
    auth_login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
