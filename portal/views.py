import logging
from collections.abc import Callable

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from portal import dashboards, selectors
from portal.audit import audit_record
from portal.forms import ThrottledPasswordResetForm
from portal.models import Role
from portal.navigation import dashboards_for
from portal.permissions import role_required


def home(request):
    return render(request, "portal/home.html")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's reset page, recording the new password in the audit chain."""

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record("portal.user.password_reset", actor=form.user, obj=form.user)
        return response


class LoginView(auth_views.LoginView):
    """Django's login page. Throttling is django-axes' backend (portal/login_security.py), which
    guards every login view the same way, the admin's included."""

    redirect_authenticated_user = True


logger = logging.getLogger(__name__)


class RedirectThenRun(HttpResponseRedirect):
    """A redirect that runs a task once it has been sent.

    The server calls ``close()`` after the last byte of the response has gone out (WSGI and
    ASGI alike), so the task takes no time the client can measure. A failing task is logged;
    the person has already had their answer.
    """

    def __init__(self, url: str, task: Callable[[], None]):
        super().__init__(url)
        self._task = task

    def close(self):
        task, self._task = self._task, None
        if task is not None:
            try:
                task()
            except Exception:
                logger.exception("Task after the response failed")
        super().close()


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request page, rate-limited, answering in the same time for any email.

    The request does the same work whether or not the email has an account: it counts the
    request and redirects. Looking the person up, making the token and sending the mail happen
    after the response has been sent.
    """

    form_class = ThrottledPasswordResetForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        opts = {
            "use_https": self.request.is_secure(),
            "token_generator": self.token_generator,
            "from_email": self.from_email,
            "email_template_name": self.email_template_name,
            "subject_template_name": self.subject_template_name,
            "request": self.request,
            "html_email_template_name": self.html_email_template_name,
            "extra_email_context": self.extra_email_context,
        }
        return RedirectThenRun(self.get_success_url(), lambda: form.save(**opts))

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error("__all__", "rate_limited"):
            response.status_code = 429
        return response


@login_required
def dashboard(request):
    """Send a person to their role's dashboard, or let them choose when they hold several."""
    dashboards = dashboards_for(request.user)
    if len(dashboards) == 1:
        return redirect("role_dashboard", dashboards[0].slug)
    return render(request, "portal/dashboard_choice.html", {"dashboards": dashboards})


@login_required
def role_dashboard(request, slug):
    """The dashboard an app registered for ``slug``, to holders of its role only."""
    dashboard = dashboards.dashboard(slug)
    if dashboard is None or not request.user.has_role(dashboard.role):
        raise Http404
    context = {"dashboard": dashboard}
    if dashboard.context is not None:
        context.update(dashboard.context(request))
    return render(request, dashboard.template, context)


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action or namespace"), required=False)
    object_type = forms.CharField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False)
    actor = forms.CharField(label=_("Actor pseudonym"), required=False)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput({"type": "date"}))


@role_required(Role.HDAB_ADMIN)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_events(**{k: v for k, v in filters.items() if v})
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
