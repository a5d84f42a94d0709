from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.login_security import address_key, client_ip, rate_limit_reached
from portal.models import normalise_username


def show_refusal(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on ``form``: on the field it names, else at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


TOO_MANY_RESETS = _(
    "Too many password reset requests. Please try again later; a link already sent stays valid."
)


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form with a limit per client address and per email address.

    Both counters are kept whether or not the email belongs to anyone, so the answer never tells
    which addresses have accounts. The form never looks anyone up itself: ``save()`` does,
    and the view runs it only after the response has been sent (see views.PasswordResetView).
    """

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email and self.request is not None:
            window = settings.PASSWORD_RESET_WINDOW_SECONDS
            if rate_limit_reached(
                ("reset-addr", address_key(client_ip(self.request))),
                settings.PASSWORD_RESET_ADDRESS_LIMIT,
                window,
            ) or rate_limit_reached(
                ("reset-email", normalise_username(email)),
                settings.PASSWORD_RESET_EMAIL_LIMIT,
                window,
            ):
                raise ValidationError(TOO_MANY_RESETS, code="rate_limited")
        return cleaned
