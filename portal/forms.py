from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.audit import audit_record

LOCKED_OUT = _(
    "Too many failed logins. For your safety this login is locked for a while: "
    "try again later or reset your password."
)


def show_refusal(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on ``form``: on the field it names, else at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown") if request else "unknown"


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing further attempts after repeated failures.

    Failures are counted per account name and per client address in the cache (Redis when
    REDIS_URL is set, so the count is shared by all workers). While locked, the password is not
    even checked, so guessing stops paying.
    """

    def _keys(self) -> tuple[str, str]:
        username = (self.data.get("username") or "").strip().lower()
        return f"login-fail:user:{username}", f"login-fail:ip:{_client_ip(self.request)}"

    def clean(self):
        user_key, ip_key = self._keys()
        if (
            cache.get(user_key, 0) >= settings.LOGIN_FAILURE_LIMIT
            or cache.get(ip_key, 0) >= settings.LOGIN_FAILURE_IP_LIMIT
        ):
            audit_record(
                "portal.session.locked_out",
                details={"username": (self.data.get("username") or "")[:150]},
            )
            raise forms.ValidationError(LOCKED_OUT, code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            for key in (user_key, ip_key):
                cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
            raise
        cache.delete(user_key)
        return cleaned
