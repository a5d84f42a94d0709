"""Before approving, a committee sees how many subjects of each dataset under its review the
consents allow for the application's use, and why the others are not allowed: on the
application page and in the review API, to the review's committee and the access body only,
in a number of queries that does not grow with the subjects."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.models import Review
from catalogue import duo
from catalogue.models import Study
from consent import services as consent_services
from portal.models import Role
from tests.catalogue.dicom_factory import uid
from tests.factories import UserFactory


def add_subjects(dataset, names):
    Study.objects.bulk_create(
        Study(dataset=dataset, study_instance_uid=uid(), subject=name) for name in names
    )


def citizen_of(catalogue, personas, subject):
    citizen = UserFactory(username=f"donor-{subject.lower()}", roles=[Role.CITIZEN])
    _link, code = consent_services.link_code_issue(
        node=catalogue.own_node, subject=subject, actor=personas["node_operator"]
    )
    consent_services.link_code_redeem(citizen=citizen, code=code)
    return citizen


@pytest.fixture
def consents(catalogue, personas):
    """Oslo's published dataset: six people. One withdrew, one opted out, one donated for
    education only, one donated for research; two never consented (the default permits)."""
    oslo = catalogue.own_node
    add_subjects(catalogue.published, [f"S-{n}" for n in range(6)])
    donation = {"nodes": [oslo], "categories": ["imaging"], "duo_codes": [duo.GRU]}
    withdrew = citizen_of(catalogue, personas, "S-0")
    given = consent_services.donation_create(citizen=withdrew, purposes=["research"], **donation)
    consent_services.donation_withdraw(record=given.record, citizen=withdrew)
    consent_services.opt_out_record(citizen=citizen_of(catalogue, personas, "S-1"))
    consent_services.donation_create(
        citizen=citizen_of(catalogue, personas, "S-2"), purposes=["education"], **donation
    )
    consent_services.donation_create(
        citizen=citizen_of(catalogue, personas, "S-3"), purposes=["research"], **donation
    )


def oslo_review(access):
    return Review.objects.get(application=access.submitted, committee=access.oslo)


def consent_rows(page: str) -> list[list[str]]:
    section = re.search(r'<section[^>]*id="consent".*?</section>', page, re.DOTALL)
    if section is None:
        return []
    rows = re.findall(r"<tr><td>(.*?)</tr>", section.group(0), re.DOTALL)
    return [re.findall(r"(?:^|<td>)([^<]*)</td>", row) for row in rows]


def test_the_committee_sees_who_the_consents_allow_before_approving(
    client_for, access, catalogue, consents
):
    page = (
        client_for("committee_member")
        .get(f"/access/applications/{access.submitted.pk}/")
        .content.decode()
    )
    assert "What the subjects" in page
    # Six people: the withdrawn, the opted-out (the permit would come after) and the one who
    # donated for education only are not allowed; the research donor and the two without a
    # consent (the EHDS opt-out default) are.
    assert consent_rows(page) == [[catalogue.published.title, "6", "3", "1", "1", "1", "0"]]


def test_the_access_body_sees_every_review_and_the_applicant_none(
    client_for, access, catalogue, consents
):
    url = f"/access/applications/{access.submitted.pk}/"
    admin = consent_rows(client_for("hdab_admin").get(url).content.decode())
    assert [row[0] for row in admin] == sorted(
        [catalogue.published.title, catalogue.other_published.title]
    )
    assert consent_rows(client_for("researcher").get(url).content.decode()) == []
    # The Valencia committee's chair also chairs Oslo; the member sits on Oslo only.
    member = consent_rows(client_for("committee_member").get(url).content.decode())
    assert [row[0] for row in member] == [catalogue.published.title]


def test_the_review_api_gives_the_counts(client_for, access, catalogue, consents):
    review = oslo_review(access)
    answer = client_for("committee_member").get(f"/api/access/reviews/{review.pk}/")
    assert answer.status_code == 200
    assert answer.json()["consent"] == [
        {
            "dataset": str(catalogue.published.identifier),
            "title": catalogue.published.title,
            "subjects": 6,
            "allowed": 3,
            "not_allowed": {
                "withdrawn": 1,
                "opted_out": 1,
                "outside_donation": 1,
                "no_consent": 0,
            },
        }
    ]
    assert client_for("researcher").get(f"/api/access/reviews/{review.pk}/").status_code == 404


def test_under_an_opt_in_default_the_unconsented_are_counted_apart(
    client_for, access, catalogue, consents, settings
):
    settings.CONSENT_DEFAULT = "deny"
    review = oslo_review(access)
    counted = client_for("committee_member").get(f"/api/access/reviews/{review.pk}/")
    [row] = counted.json()["consent"]
    assert row["allowed"] == 1 and row["not_allowed"]["no_consent"] == 2


def test_the_counts_cost_the_same_queries_for_many_subjects(
    client_for, access, catalogue, consents
):
    client = client_for("committee_member")
    url = f"/api/access/reviews/{oslo_review(access).pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    add_subjects(catalogue.published, [f"MORE-{n}" for n in range(200)])
    for n in range(4, 6):
        consent_services.donation_create(
            citizen=citizen_of(catalogue, personas_for(client), f"LINKED-{n}"),
            nodes=[catalogue.own_node],
            categories=["imaging"],
            purposes=["education"],
        )
    with CaptureQueriesContext(connection) as many:
        answer = client.get(url)
    assert answer.json()["consent"][0]["subjects"] == 206
    assert len(many) == len(few)


def personas_for(client):
    from portal.models import User

    return {"node_operator": User.objects.get(username="node_operator")}
