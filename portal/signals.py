"""Login and logout go into the audit chain.

Failed logins are recorded by the login throttle (portal/login_security.py), which aggregates
them: anyone can fail a login, and the chain must show an attack without being filled by it.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
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
