"""Permit pages: the printable permit, the lists, and suspending, reactivating, revoking."""

import pytest
from django.urls import reverse

from access import services
from access.models import Permit, Review, TeamMember
from portal.models import AuditEvent


@pytest.fixture
def permits(access, personas):
    """Both committees' chair approved ``access.submitted``, whose team includes
    ``other_researcher``: one permit per committee."""
    TeamMember.objects.create(
        application=access.submitted,
        email="other_researcher@example.org",
        user=personas["other_researcher"],
        status=TeamMember.Status.ACCEPTED,
    )
    oslo = Review.objects.get(application=access.submitted, committee=access.oslo)
    services.review_decide(
        review=oslo,
        actor=personas["committee_chair"],
        approve=True,
        conditions="Publish results within 18 months.",
    )
    valencia = Review.objects.get(application=access.submitted, committee=access.valencia)
    services.review_decide(review=valencia, actor=personas["committee_chair"], approve=True)
    return Permit.objects.get(review=oslo), Permit.objects.get(review=valencia)


def _text(response) -> str:
    return response.content.decode()


def test_it_prints_the_art_68_10_contents_of_a_permit(permits, client_for, catalogue, personas):
    permit = permits[0]
    response = client_for("researcher").get(reverse("access:permit_detail", args=[permit.pk]))
    page = _text(response)
    for item in [
        permit.number,
        personas["researcher"].display_name,
        personas["other_researcher"].display_name,  # an authorised person
        catalogue.published.title,
        "Oslo imaging node",
        "Pseudonymised",
        "(e)(ii) Research: training, testing and evaluating algorithms, including AI",
        "Train and validate a lesion detection model.",
        "Publish results within 18 months.",
        "Python, PyTorch, GPU nodes of the processing environment.",
        f"{permit.starts_on:%Y-%m-%d}",
        f"{permit.ends_on:%Y-%m-%d}",
        "at most 10 years",
        "Oslo DAC",
        f"chair: {personas['committee_chair'].display_name}",
        f"{permit.review.decided_at:%Y-%m-%d}",
        "Active",
    ]:
        assert item in page, item
    assert catalogue.other_published.title not in page  # granted by the other permit
    assert 'href="/static/portal/print.css" media="print"' in page
    assert "<script" not in page and "<style" not in page and " style=" not in page
    assert reverse("access:permit_change", args=[permit.pk]) not in page  # the holder cannot


def test_it_lets_the_chair_suspend_and_the_holder_see_it(permits, client_for):
    permit = permits[0]
    chair = client_for("committee_chair")
    url = reverse("access:permit_change", args=[permit.pk])
    detail = reverse("access:permit_detail", args=[permit.pk])
    assert 'value="suspend"' in _text(chair.get(detail))

    before = AuditEvent.objects.filter(action__startswith="access.").count()
    response = chair.post(url, {"change": "suspend", "reason": " "})
    assert response.status_code == 200 and "Give the reason." in _text(response)
    permit.refresh_from_db()
    assert permit.status == "active"
    assert AuditEvent.objects.filter(action__startswith="access.").count() == before

    response = chair.post(url, {"change": "suspend", "reason": "Audit of the processing site."})
    assert response.status_code == 302 and response.url == detail
    page = _text(client_for("researcher").get(detail))
    assert "Suspended" in page and "Audit of the processing site." in page
    assert "Suspended" in _text(client_for("researcher").get(reverse("access:permit_list")))

    page = _text(chair.get(detail))
    assert 'value="reactivate"' in page and 'value="suspend"' not in page
    assert chair.post(url, {"change": "reactivate"}).status_code == 302
    admin = client_for("hdab_admin")
    assert (
        admin.post(
            url, {"change": "revoke", "reason": "Breach of conditions.", "confirmed": "yes"}
        ).status_code
        == 302
    )
    permit.refresh_from_db()
    assert permit.status == "revoked"
    response = admin.post(url, {"change": "reactivate"})
    assert response.status_code == 302 and "cannot become active" in _text(admin.get(detail))


def test_it_refuses_permit_changes_to_everyone_else(permits, client_for):
    url = reverse("access:permit_change", args=[permits[0].pk])
    # Who sees the permit is refused (403); who does not is told nothing (404).
    for persona, refused in [("researcher", 403), ("other_researcher", 403),
                             ("committee_member", 403), ("outsider", 404)]:  # fmt: skip
        response = client_for(persona).post(url, {"change": "revoke", "reason": "x"})
        assert response.status_code == refused, persona
    assert Permit.objects.get(pk=permits[0].pk).status == "active"


def test_it_lists_each_persons_permits(permits, client_for):
    oslo, valencia = permits
    url = reverse("access:permit_list")
    for persona, expected in [
        ("researcher", {oslo, valencia}),
        ("other_researcher", {oslo, valencia}),  # named on them
        ("committee_member", {oslo}),  # Oslo's committee issued it
        ("committee_chair", {oslo, valencia}),
        ("hdab_admin", {oslo, valencia}),
    ]:
        page = _text(client_for(persona).get(url))
        assert {p for p in permits if p.number in page} == expected, persona
    assert client_for("citizen").get(url).status_code == 404
