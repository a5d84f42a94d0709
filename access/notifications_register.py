"""Emails of the results clock (EHDS Art 61(4)): reminders to the permit holder, and the
flag to the access body when results are overdue. Sent after the transaction commits."""

from datetime import date

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from access.models import Permit
from access.notifications import _send


def results_reminder(permit: Permit, due_on: date) -> None:
    _send(
        [permit.holder.email],
        _("Your results are due on %s") % due_on.isoformat(),
        _("Make the results of permit %(n)s public by %(d)s")
        % {"n": permit.number, "d": due_on.isoformat()},
        [
            _(
                "The law asks you to make the results of your project public within 18 months "
                "of the end of processing (EHDS Article 61(4))."
            ),
            _("Record your publications, software or models and a short summary for the public."),
        ],
        reverse("access:permit_results", args=[permit.pk]),
        _("Record the results"),
    )


def results_overdue(permit: Permit, due_on: date) -> None:
    _send(
        [settings.HDAB_EMAIL],
        _("Results overdue for permit %s") % permit.number,
        _("The results of permit %(n)s were due on %(d)s")
        % {"n": permit.number, "d": due_on.isoformat()},
        [
            _("The holder has not reported the results. You may extend the clock with a reason."),
        ],
        reverse("access:results_extend", args=[permit.pk]),
        _("Open the results clock"),
    )
