"""Emails to the people who wait on each step. Sent after the transaction commits, so a
rolled-back change never mails anyone. Each has a text and an HTML body."""

import re
import unicodedata
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from access.models import Application, Clarification, Comment, Permit, Review, TeamMember
from access.permissions import members_of, parties_by_application


def _send(
    recipients: Iterable[str],
    subject: str,
    heading: str,
    lines: list[str],
    path: str,
    action: str,
    *,
    template: str = "access/email/notification",
    extra: dict[str, str] | None = None,
) -> None:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return
    context = {
        "heading": heading,
        "lines": lines,
        "action_url": settings.SITE_URL + path,
        "action_label": action,
        **(extra or {}),
    }
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)

    def send() -> None:
        for recipient in recipients:  # one message each: recipients do not see each other
            message = EmailMultiAlternatives(f"[ECII] {subject}", text, to=[recipient])
            message.attach_alternative(html, "text/html")
            message.send()

    transaction.on_commit(send)


def _reviewer_emails(review: Review) -> set[str]:
    """The committee's members with a seat on the review (``access.permissions.has_seat``),
    leaving out parties to the application and members who declared a conflict: they take no
    part in its review and are not told about the committee's side."""
    parties = parties_by_application([review.application_id])[review.application_id]
    conflicted = set(review.conflicts.values_list("member_id", flat=True))
    return {
        m.email
        for m in members_of(review.committee)
        if m.pk not in parties and m.pk not in conflicted
    }


def _committee_emails(application: Application) -> set[str]:
    emails: set[str] = set()
    for review in application.reviews.select_related("committee"):
        emails |= _reviewer_emails(review)
    return emails


def _applicant_and_team(application: Application) -> set[str]:
    team = application.team.filter(status="accepted").values_list("email", flat=True)
    return {application.applicant.email, *team}


def _app_path(application: Application) -> str:
    return reverse("access:application_detail", args=[application.pk])


# Characters a mail program reads as the dot of a host name, and what it may link: a scheme's
# "://", or a dot followed by a top-level-domain-like word ("evil.example", "www.x.org").
_DOTS = "[.\u3002\uff0e\uff61]"
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")
_HOST_DOT = re.compile(rf"(?<=[\w-]){_DOTS}(?=[^\W\d_]{{2,}})")


def inviter_words(text: str) -> str:
    """``text`` as quoted in an email on behalf of a person: on one line, without invisible or
    control characters, and with nothing a mail program would turn into a link (``x://`` and
    the dots of host names are written ``x[:]//`` and ``[.]``). The mail then holds no link
    but the portal's own, whatever the person typed."""
    text = " ".join(str(text).split())
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf"})
    text = _SCHEME.sub(r"\1[:]", text)
    return _HOST_DOT.sub("[.]", text)


def team_invited(member: TeamMember) -> None:
    """The invitation names the researcher who sends it (their name and organisation as given
    in their profile, and their portal pseudonym) and quotes the application's title as their
    words; its only link is the invitation's address on the portal."""
    application = member.application
    inviter = application.applicant
    _send(
        [member.email],
        _("Invitation to join the team of a data access application"),
        _("Invitation to join the team of a data access application"),
        [],
        reverse("access:invitation", args=[member.token]),
        _("Answer the invitation"),
        template="access/email/team_invitation",
        extra={
            "inviter_name": inviter_words(inviter.get_full_name()),
            "inviter_organisation": inviter_words(inviter.organisation),
            "inviter_pseudonym": inviter.pseudonym,
            "title": inviter_words(application.title),
            "role": inviter_words(member.role),
        },
    )


def application_submitted(application: Application) -> None:
    due = application.decision_due
    _send(
        _committee_emails(application),
        _("New data access application"),
        _("“%s” was submitted for review") % application.title,
        [_("The decision is due by %s (EHDS Art 68(4)).") % f"{due:%Y-%m-%d}"],
        _app_path(application),
        _("Review the application"),
    )
    _send(
        [application.applicant.email],
        _("Your application was submitted"),
        _("“%s” was submitted") % application.title,
        [_("The committees will decide by %s.") % f"{due:%Y-%m-%d}"],
        _app_path(application),
        _("Follow your application"),
    )


def application_withdrawn(application: Application) -> None:
    _send(
        _committee_emails(application),
        _("Application withdrawn"),
        _("“%s” was withdrawn by the applicant") % application.title,
        [],
        _app_path(application),
        _("See the application"),
    )


def comment_for_applicant(comment: Comment) -> None:
    application = comment.application
    _send(
        [application.applicant.email],
        _("A committee commented on your application"),
        _("New comment on “%s”") % application.title,
        [comment.body],
        _app_path(application),
        _("Read and reply"),
    )


def comment_from_applicant(comment: Comment) -> None:
    """The applicant wrote to the committees: every reviewing committee's members with a seat
    on its review are told (not parties, not conflicted members)."""
    application = comment.application
    _send(
        _committee_emails(application),
        _("The applicant commented"),
        _("New comment from the applicant on “%s”") % application.title,
        [comment.body],
        _app_path(application),
        _("Read the comment"),
    )


def clarification_requested(clarification: Clarification) -> None:
    application = clarification.application
    lines = [clarification.question]
    if clarification.incomplete:
        lines.append(
            _("Your application is incomplete: complete it by %s, or no permit can be issued.")
            % f"{application.completion_due:%Y-%m-%d}"
        )
    _send(
        [application.applicant.email],
        _("Clarification requested"),
        _("%s asks a question about “%s”") % (clarification.committee, application.title),
        lines,
        _app_path(application),
        _("Answer"),
    )


def clarification_answered(application: Application) -> None:
    _send(
        _committee_emails(application),
        _("Clarification answered"),
        _("The applicant answered on “%s”") % application.title,
        [],
        _app_path(application),
        _("Continue the review"),
    )


def deadline_extended(application: Application) -> None:
    _send(
        [application.applicant.email],
        _("Decision deadline extended"),
        _("The decision on “%s” is now due by %s")
        % (application.title, f"{application.decision_due:%Y-%m-%d}"),
        [application.extension_reason],
        _app_path(application),
        _("See the application"),
    )


def application_decided(application: Application, permits: Iterable[Permit]) -> None:
    lines: list[str] = []
    for review in application.reviews.select_related("committee"):
        lines.append(f"{review.committee}: {review.get_status_display()}")
        if review.reason:
            lines.append(review.reason)
    for permit in permits:
        lines.append(
            _("Data permit %(n)s, valid until %(d)s.") % {"n": permit.number, "d": permit.ends_on}
        )
    _send(
        _applicant_and_team(application),
        _("Decision on your application"),
        _("“%s” is %s") % (application.title, application.get_status_display().lower()),
        lines,
        _app_path(application),
        _("See the decision"),
    )


def permit_changed(permit: Permit) -> None:
    emails = {permit.holder.email, *permit.authorised_persons.values_list("email", flat=True)}
    lines = [permit.status_reason] if permit.status_reason else []
    _send(
        emails,
        _("Data permit %(n)s is %(s)s")
        % {"n": permit.number, "s": permit.get_status_display().lower()},
        _("Data permit %(n)s is %(s)s")
        % {"n": permit.number, "s": permit.get_status_display().lower()},
        lines,
        reverse("access:permit_detail", args=[permit.pk]),
        _("See the permit"),
    )


def review_reminder(review: Review, *, overdue: bool) -> None:
    application = review.application
    heading = (
        _("The decision on “%s” is overdue") if overdue else _("The decision on “%s” is due soon")
    ) % application.title
    _send(
        _reviewer_emails(review),
        heading,
        heading,
        [_("Due: %s") % f"{application.decision_due:%Y-%m-%d}"],
        _app_path(application),
        _("Review the application"),
    )


def completion_reminder(application: Application) -> None:
    _send(
        [application.applicant.email],
        _("Complete your application"),
        _("“%s” must be completed by %s")
        % (application.title, f"{application.completion_due:%Y-%m-%d}"),
        [],
        _app_path(application),
        _("Complete the application"),
    )


def permit_expiring(permit: Permit) -> None:
    _send(
        [permit.holder.email],
        _("Data permit %s expires soon") % permit.number,
        _("Data permit %(n)s ends on %(d)s") % {"n": permit.number, "d": permit.ends_on},
        [_("An extension must be requested at least one month before it ends (Art 68(12)).")],
        reverse("access:permit_detail", args=[permit.pk]),
        _("See the permit"),
    )


def review_stuck(review: Review, why: str) -> None:
    """The access body waits on nobody else here: no member may vote on or decide."""
    application = review.application
    _send(
        [settings.HDAB_EMAIL],
        _("A review nobody may decide"),
        _("%(committee)s cannot decide on “%(title)s”")
        % {"committee": review.committee.name, "title": application.title},
        [why, _("Add members free of conflicts to the committee, or change what it governs.")],
        reverse("access:committee_detail", args=[review.committee_id]),
        _("Open the committee"),
    )
