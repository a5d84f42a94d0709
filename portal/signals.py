"""Login and logout go into the audit chain."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.audit import audit_record


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    method = getattr(request, "login_method", "password") if request else "password"
    audit_record("portal.session.login", actor=user, obj=user, details={"method": method})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record("portal.session.logout", actor=user, obj=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit_record(
        "portal.session.login_failed",
        details={"username": str(credentials.get("username", ""))[:150]},
    )
