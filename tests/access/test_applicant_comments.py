"""The applicant's comments reach the reviewing committees by email, except members who take
no part in the review."""

from django.core import mail

from access import services
from access.models import Review


def test_it_emails_the_reviewing_committees_when_the_applicant_comments(
    access, personas, django_capture_on_commit_callbacks
):
    oslo = Review.objects.get(application=access.submitted, committee=access.oslo)
    services.conflict_declare(review=oslo, actor=personas["committee_member"])
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.comment_add(
            application=access.submitted,
            actor=personas["researcher"],
            body="We added the scanner list.",
            visible_to_applicant=True,
        )

    recipients = {address for message in mail.outbox for address in message.to}
    assert recipients == {personas["committee_chair"].email}
    assert "We added the scanner list." in mail.outbox[0].body
