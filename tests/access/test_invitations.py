"""Team invitations: the mail names the inviter and quotes their words, holds no link but the
portal's own, and a researcher can send only so many an hour and a day."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.urls import reverse

from access import services
from access.models import TeamMember
from portal.models import AuditEvent, User

PHISHING_TITLE = (
    "URGENT: your ECII account is suspended. Verify it at https://ecii-login.example.net/verify "
    "or www.evil.example today\n\n-- ECII Security Team <b>portal notice</b>"
)


@pytest.fixture
def inviter(personas):
    researcher = personas["researcher"]
    researcher.first_name, researcher.last_name = "Ada", "Lovelace"
    researcher.organisation = "Instituto de Oncologia"
    researcher.save(update_fields=["first_name", "last_name", "organisation"])
    return researcher


def _invite_on_page(client, application, email, capture):
    with capture(execute=True):
        return client.post(
            reverse("access:team_invite", args=[application.pk]), {"email": email, "role": ""}
        )


def _links(text: str) -> list[str]:
    return re.findall(r"(?i)\b(?:https?|ftp)[:]//[^\s<>\"”]+", text)


def test_it_names_the_inviter_and_quotes_their_title_with_no_link_but_the_invitation(
    access, client_for, inviter, django_capture_on_commit_callbacks
):
    services.application_update(application=access.draft, actor=inviter, title=PHISHING_TITLE)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("researcher").post(
            reverse("access:team_invite", args=[access.draft.pk]),
            {"email": "colleague@example.org", "role": "Reviewer at https://evil.example"},
        )
    assert response.status_code == 302
    [message] = mail.outbox
    member = TeamMember.objects.get()
    invitation = settings.SITE_URL + reverse("access:invitation", args=[member.token])
    [(html, mime)] = message.alternatives
    assert mime == "text/html" and message.to == ["colleague@example.org"]

    # The subject is the portal's own words; the title is not in it.
    assert message.subject == "[ECII] Invitation to join the team of a data access application"

    text = message.body
    assert "Invited by: “Ada Lovelace”" in text
    assert "Their organisation: “Instituto de Oncologia”" in text
    assert inviter.pseudonym in text
    assert "in the researcher's own words; the portal has not checked it" in text
    assert (
        "Title of the application, in the researcher's words:\n"
        "    “URGENT: your ECII account is suspended. Verify it at "
        "https[:]//ecii-login[.]example[.]net/verify or www[.]evil[.]example today "
        "-- ECII Security Team <b>portal notice</b>”"
    ) in text
    assert (
        "Your role in the project, in the researcher's words: "
        "“Reviewer at https[:]//evil[.]example”" in text
    )

    assert "<q>Ada Lovelace</q>" in html and "<q>Instituto de Oncologia</q>" in html
    assert "<blockquote" in html and "<q>URGENT: your ECII account is suspended." in html
    assert "&lt;b&gt;portal notice&lt;/b&gt;" in html and "<b>portal" not in html

    for body in (text, html):
        links = _links(body)
        assert links and set(links) == {invitation}
        assert "evil.example" not in body and "example.net" not in body
    assert re.findall(r'href="([^"]*)"', html) == [invitation]


def test_it_says_when_the_inviter_gave_no_name_or_organisation(
    access, personas, django_capture_on_commit_callbacks
):
    researcher = personas["researcher"]
    researcher.first_name = researcher.last_name = researcher.organisation = ""
    researcher.save(update_fields=["first_name", "last_name", "organisation"])
    with django_capture_on_commit_callbacks(execute=True):
        services.team_invite(
            application=access.draft, actor=researcher, email="colleague@example.org"
        )
    text = mail.outbox[-1].body
    assert "Invited by: (no name given)" in text and "Their organisation: (none given)" in text
    assert f"Their pseudonym on the portal: {researcher.pseudonym}" in text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "Lesion detection v2.0 (ICD-10 C50.9), e.g. MRI",
            "Lesion detection v2.0 (ICD-10 C50.9), e.g. MRI",
        ),
        ("see evil.example/login", "see evil[.]example/login"),
        ("mail x@phish.example.org", "mail x@phish[.]example[.]org"),
        ("ftp://files.example", "ftp[:]//files[.]example"),
        ("ideographic evil。example", "ideographic evil[.]example"),
        ("zero\u200bwidth evil\u200b.example", "zerowidth evil[.]example"),
        ("right-to-left \u202etxt.exe", "right-to-left txt[.]exe"),
        ("two\nlines\r\n\tand tabs", "two lines and tabs"),
    ],
)
def test_it_quotes_inviter_words_without_links_or_hidden_characters(text, shown):
    from access.notifications import inviter_words

    assert inviter_words(text) == shown


# --- The limit ------------------------------------------------------------------------------


@pytest.fixture
def limits(settings):
    settings.INVITATIONS_PER_HOUR = 3
    settings.INVITATIONS_PER_DAY = 5


def _stored():
    return (
        list(TeamMember.objects.order_by("pk").values_list("email", "invited_at")),
        AuditEvent.objects.filter(action="access.team.invited").count(),
    )


def test_it_limits_invitations_per_researcher_per_hour_on_the_page_and_the_api(
    access, client_for, limits, django_capture_on_commit_callbacks
):
    researcher = client_for("researcher")
    second = access.new_application("Second study")
    for n, application in enumerate([access.draft, access.draft, second]):
        response = _invite_on_page(
            researcher, application, f"p{n}@example.org", django_capture_on_commit_callbacks
        )
        assert response.status_code == 302
    assert len(mail.outbox) == 3
    before = _stored()

    # The fourth, to either application, is refused with the reason; nothing is stored or sent.
    response = _invite_on_page(
        researcher, second, "p3@example.org", django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    errors = " ".join(response.context["invite_form"].errors["email"])
    assert "You have sent 3 invitations in the last hour, the most allowed." in errors
    assert "Nothing was sent. You can invite again after" in errors
    assert "You can invite again after" in response.content.decode()
    url = reverse("access_api:application_team", kwargs={"pk": access.draft.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = researcher.post(
            url, {"email": "p3@example.org"}, content_type="application/json"
        )
    assert response.status_code == 400
    assert "in the last hour" in response.json()["errors"]["email"][0]
    assert _stored() == before and len(mail.outbox) == 3


def test_it_limits_invitations_per_day_and_frees_them_as_time_passes(
    access, personas, limits, django_capture_on_commit_callbacks
):
    researcher = personas["researcher"]

    def invite(n):
        with django_capture_on_commit_callbacks(execute=True):
            return services.team_invite(
                application=access.draft, actor=researcher, email=f"p{n}@example.org"
            )

    def age(hours):
        for member in TeamMember.objects.all():
            TeamMember.objects.filter(pk=member.pk).update(
                invited_at=member.invited_at - timedelta(hours=hours)
            )

    for n in range(3):
        invite(n)
    age(2)  # the hour has passed: three more are allowed by the hour, two by the day
    for n in range(3, 5):
        invite(n)
    with pytest.raises(ValidationError, match="in the last 24 hours"):
        invite(5)
    age(23)  # the first three are now more than a day old
    invite(5)
    assert TeamMember.objects.count() == 6


def test_it_counts_each_researcher_on_their_own(access, catalogue, personas, limits):
    for n in range(3):
        services.team_invite(
            application=access.draft, actor=personas["researcher"], email=f"p{n}@example.org"
        )
    other = services.application_create(
        applicant=personas["other_researcher"], title="Other", datasets=[catalogue.published]
    )
    services.team_invite(
        application=other, actor=personas["other_researcher"], email="q@example.org"
    )
    with pytest.raises(ValidationError, match="in the last hour"):
        services.team_invite(
            application=access.draft, actor=personas["researcher"], email="p9@example.org"
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_only_one_of_two_racing_invitations_take_the_last_place(
    access, personas, catalogue, limits
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are exercised on PostgreSQL")
    researcher = personas["researcher"]
    second = access.new_application("Second study")
    for n in range(2):
        services.team_invite(application=access.draft, actor=researcher, email=f"p{n}@example.org")
    outcomes = []

    def invite(application, email):
        try:
            services.team_invite(application=application, actor=researcher, email=email)
            outcomes.append("invited")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=invite, args=(access.draft, "a@example.org")),
        threading.Thread(target=invite, args=(second, "b@example.org")),
    ]
    # Hold the researcher's row while both start: each must wait for it before counting.
    with transaction.atomic():
        User.objects.select_for_update().get(pk=researcher.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(outcomes) < 2:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if cursor.fetchone()[0] >= 2:
                    break
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["invited", "refused"]
    assert TeamMember.objects.count() == 3
