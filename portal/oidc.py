"""Login through an OpenID Connect provider (LS Login, Keycloak or any issuer with discovery).

The portal is a confidential client using the authorization code flow with PKCE (S256), a
``state`` bound to the browser session and a ``nonce`` bound to the ID token. authlib checks the
state, exchanges the code and validates the ID token (signature against the provider's JWKS,
``iss``, ``aud``, ``exp`` and ``nonce``); this module then finds or creates the person and logs
them in.

Who the person is (found by their external identity, linked by a verified email, or created)
is decided in ``portal.oidc_accounts``. A privileged account is linked only by its owner, signed
in with their password (:func:`oidc_link`), or by an administrator
(``manage.py link_external_identity``). Settings are read on every request, so the client is
rebuilt when they change.
"""

import logging
import re
import threading
import time

import requests
from authlib.integrations.django_client import OAuth, OAuthError
from authlib.integrations.django_client.apps import DjangoOAuth2App
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from joserfc.errors import JoseError

from portal.login_security import audit_oidc_failure
from portal.oidc_accounts import (
    IdentityLinkRefused,
    OidcLoginRefused,
    external_identity_login,
    identity_link,
)

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


def _failure(
    request,
    reason: str,
    message: str,
    *,
    next_url: str = "",
    status: int = 400,
    linking: bool = False,
):
    """Record the failed login and show the login page with the reason.

    Anyone can come back from the provider with an error, so the audit chain gets these within a
    budget per window (portal/login_security.py). A failed link returns to the link page.
    """
    reason = reason[:200]
    logger.warning("OpenID Connect login failed: %s", reason)
    audit_oidc_failure(reason)
    if linking:
        messages.error(
            request,
            _("Linking %(provider)s failed: %(message)s")
            % {"provider": settings.OIDC_PROVIDER_NAME, "message": message},
        )
        return HttpResponseRedirect(reverse("oidc_link"))
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
    link_for = (state_data or {}).get("link")
    linking = bool(link_for)

    error = request.GET.get("error")
    if error:
        if state_data is not None:
            client.framework.clear_state_data(request.session, state)
        error = _error_code(error)
        if error == "access_denied":
            message = _("the login was refused or cancelled.")
        else:
            message = _("the login service answered with the error “%(error)s”.") % {"error": error}
        return _failure(
            request, f"provider_error:{error}", message, next_url=next_url, linking=linking
        )

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
        return _failure(request, reason, message, next_url=next_url, linking=linking)
    except JoseError as exc:
        return _failure(
            request,
            f"invalid_id_token:{exc.error}:{exc.description}",
            _("the identity token could not be verified."),
            next_url=next_url,
            linking=linking,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        logger.warning("OpenID Connect provider unreachable: %r", exc)
        return _failure(
            request,
            "provider_unreachable",
            _("the login service cannot be reached. Please try again later."),
            next_url=next_url,
            linking=linking,
        )
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OpenID Connect provider error: %r", exc)
        return _failure(
            request,
            "provider_http_error",
            _("the login service gave an unexpected answer."),
            next_url=next_url,
            linking=linking,
        )

    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer or not subject:
        return _failure(
            request,
            "missing_claims",
            _("the identity token is incomplete."),
            next_url=next_url,
            linking=linking,
        )
    if linking:
        return _finish_link(request, link_for, issuer=issuer, subject=subject)
    try:
        try:
            result = external_identity_login(issuer=issuer, subject=subject, claims=claims)
        except IntegrityError:
            # The same identity logged in twice at once and the other request linked it first.
            result = external_identity_login(issuer=issuer, subject=subject, claims=claims)
    except OidcLoginRefused as exc:
        return _failure(request, exc.reason, exc.message, next_url=next_url, linking=linking)

    request.login_method = "oidc"
    auth_login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _finish_link(request, link_for: str, *, issuer: str, subject: str):
    """Link the identity the provider vouched for to the person who started the link."""
    if not request.user.is_authenticated or str(request.user.pk) != str(link_for):
        return _failure(
            request,
            "link_session_changed",
            _("you are no longer signed in as the person who started the link."),
            linking=True,
        )
    try:
        identity_link(
            user=request.user, issuer=issuer, subject=subject, actor=request.user, via="owner"
        )
    except IdentityLinkRefused as exc:
        return _failure(request, f"link_refused:{exc.code}", exc.messages[0], linking=True)
    messages.success(
        request,
        _("Your %(provider)s account is linked: you can now log in with it.")
        % {"provider": settings.OIDC_PROVIDER_NAME},
    )
    return HttpResponseRedirect(reverse("oidc_link"))


class ConfirmPasswordForm(forms.Form):
    """The signed-in person's portal password, checked through the login throttle."""

    password = forms.CharField(
        label=_("Your portal password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self):
        password = self.cleaned_data["password"]
        user = self.request.user
        confirmed = authenticate(self.request, username=user.get_username(), password=password)
        if confirmed is None or confirmed.pk != user.pk:
            raise ValidationError(_("That is not your portal password."), code="wrong_password")
        return password


@never_cache
@require_http_methods(["GET", "POST"])
def oidc_link(request):
    """Link a single sign-on account to the signed-in person's account, after their password.

    The only way, besides an administrator, for a privileged account to gain a single sign-on
    login. The flow is the login's (state, nonce, PKCE) with ``prompt=login``, so the provider
    asks who is there instead of reusing a session someone else may have left open.
    """
    if not oidc_enabled():
        raise Http404
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    user = request.user
    has_password = user.has_usable_password()
    form = ConfirmPasswordForm(request, request.POST or None)
    if request.method == "POST" and has_password and form.is_valid():
        client = oidc_client()
        redirect_uri = request.build_absolute_uri(reverse("oidc_callback"))
        try:
            authorization = client.create_authorization_url(redirect_uri, prompt="login")
        except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
            logger.warning("OpenID Connect provider unavailable: %r", exc)
            return _failure(
                request,
                "provider_unreachable",
                _("the login service cannot be reached. Please try again later."),
                linking=True,
            )
        client.save_authorize_data(
            request, redirect_uri=redirect_uri, next="", link=str(user.pk), **authorization
        )
        return HttpResponseRedirect(authorization["url"])
    context = {
        "form": form if has_password else None,
        "identities": user.external_identities.order_by("linked_at"),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "registration/oidc_link.html", context, status=status)
