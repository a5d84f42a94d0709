"""A person who declined an invitation to an application's team gets no access to it: every
page and API route of the application answers 404, as for an outsider, and its permits do not
name them. A person who accepted, invited in the same way, does get access (the control)."""

import pytest
from django.urls import reverse

from access import services
from access.models import Application, Permit, TeamMember
from portal.models import Role
from tests.factories import UserFactory


@pytest.fixture
def team(access, personas):
    """``access.draft`` with two invitations: ``other_researcher`` declined, ``colleague``
    accepted; then submitted, approved by both committees, with an ethics approval on file."""
    colleague = UserFactory(username="colleague", roles=[Role.RESEARCHER])
    invitations = {
        person: services.team_invite(
            application=access.draft, actor=personas["researcher"], email=person.email
        )
        for person in (personas["other_researcher"], colleague)
    }
    services.team_answer(
        token=invitations[personas["other_researcher"]].token,
        user=personas["other_researcher"],
        accept=False,
    )
    services.team_answer(token=invitations[colleague].token, user=colleague, accept=True)
    application = services.application_submit(
        application=access.draft, actor=personas["researcher"]
    )
    Application.objects.filter(pk=application.pk).update(ethics_approval="ethics/approval.pdf")
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    return application, personas["other_researcher"], colleague


def _pages(application):
    permit = Permit.objects.filter(application=application).first()
    return [
        reverse("access:application_detail", args=[application.pk]),
        reverse("access:ethics_file", args=[application.pk]),
        reverse("access:permit_detail", args=[permit.pk]),
    ]


def _api(application):
    permit = Permit.objects.filter(application=application).first()
    return [
        reverse("access_api:application", args=[application.pk]),
        reverse("access_api:application_comments", args=[application.pk]),
        reverse("access_api:permit", args=[permit.pk]),
    ]


def test_it_answers_404_to_a_team_member_who_declined(team, client):
    application, declined, _colleague = team
    assert TeamMember.objects.get(application=application, user=declined).status == "declined"
    client.force_login(declined)
    for url in _pages(application) + _api(application):
        assert client.get(url).status_code == 404, url


def test_it_lists_nothing_of_it_to_a_team_member_who_declined(team, client):
    application, declined, _colleague = team
    client.force_login(declined)
    for url in [reverse("access:application_list"), reverse("access:permit_list")]:
        assert application.title not in client.get(url).content.decode(), url
    applications = client.get(reverse("access_api:applications")).json()
    permits = client.get(reverse("access_api:permits")).json()
    assert application.pk not in [a["id"] for a in _results(applications)]
    assert not [p for p in _results(permits) if p["application"] == application.pk]
    for permit in Permit.objects.filter(application=application):
        assert declined not in permit.authorised_persons.all()


def test_it_gives_access_to_a_team_member_who_accepted(team, client):
    application, _declined, colleague = team
    client.force_login(colleague)
    for url in [_pages(application)[0], _pages(application)[2], *_api(application)]:
        assert client.get(url).status_code == 200, url
    assert application.title in client.get(reverse("access:application_list")).content.decode()
    for permit in Permit.objects.filter(application=application):
        assert colleague in permit.authorised_persons.all()


def _results(answer):
    return answer["results"] if isinstance(answer, dict) else answer
