"""What a donor sees of the use of their data (/access/my-data/): the permits that granted a
dataset holding their studies, and the requests for their studies that nodes reported, built
through the real services (link codes, applications and decisions, tokens, signed access
reports)."""

import re
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from joserfc.jwk import ECKey

from access import services
from access.models import NodeAccessEvent, Permit
from access.node.portal_link import sign_report
from access.node.reasons import Reason
from access.node.reports import AccessEvent, batch_claims
from access.selectors_donor import (
    EVENTS_PER_PAGE,
    PERMITS_PER_PAGE,
    REASON_WORDS,
    donor_overview,
    reason_words,
)
from catalogue.models import Study
from catalogue.services import dataset_create
from consent import services as consent_services
from portal.models import Role
from tests.conftest import complete_application_fields, dataset_fields
from tests.factories import UserFactory

URL = "/access/my-data/"
MINE = "1.2.826.0.1.3680043.8.498.101"  # the donor's study in the breast MRI cohort
MINE_TOO = "1.2.826.0.1.3680043.8.498.102"  # the donor's study in the prostate cohort
THEIRS = "1.2.826.0.1.3680043.8.498.103"  # another subject's study at Oslo
VALENCIA = "1.2.826.0.1.3680043.8.498.104"  # the donor's pseudonym, at Valencia


def _permit(personas, datasets, *, title, organisation):
    """A permit for ``datasets`` (all governed by one committee), through the real workflow."""
    researcher = personas["researcher"]
    application = services.application_create(applicant=researcher, title=title, datasets=datasets)
    services.application_update(
        application=application,
        actor=researcher,
        **complete_application_fields(organisation=organisation),
    )
    services.application_submit(application=application, actor=researcher)
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    return Permit.objects.get(application=application)


def _link(personas, node, subject, citizen):
    """``citizen`` links ``subject`` at ``node`` with a code the node's operator issued."""
    operator = personas["node_operator"]
    node.operators.add(operator)
    _code, text = consent_services.link_code_issue(node=node, subject=subject, actor=operator)
    return consent_services.link_code_redeem(citizen=citizen, code=text)


def _report_key(node):
    key = ECKey.generate_key("P-256", private=True)
    kid = f"{node.slug}-report-key"
    services.node_key_register(node=node, jwk={**key.as_dict(private=False), "kid": kid})
    return {**key.as_dict(private=True), "kid": kid}


def report(node, key, *events):
    """Send ``events`` (``(jti, study, seconds, reason)``) as one signed batch from ``node``,
    stored by the portal's own service."""
    claims = batch_claims(
        node=node.audience,
        events=[
            AccessEvent.recorded(jti=jti, study=study, time=moment, reason=reason)
            for jti, study, moment, reason in events
        ],
        iat=int(time.time()),
    )
    stored, created = services.access_report_receive(
        node=node, document=sign_report(claims, key).encode()
    )
    assert created
    return stored


@pytest.fixture
def donor(personas, catalogue, access):
    """The citizen linked ``DONOR-1`` at Oslo: one study in the breast MRI cohort, one in a
    prostate cohort. Another Oslo subject has a study in the breast cohort and in a liver
    cohort; at Valencia the same pseudonym ``DONOR-1`` names someone else. Permits: ``covering``
    (Instituto de Oncologia, breast cohort), ``elsewhere`` (Oslo's liver cohort, without the
    donor's data) and ``valencia`` (the Valencia dataset). Report keys for both nodes."""
    oslo, valencia = catalogue.own_node, catalogue.other_node
    prostate = dataset_create(
        node=oslo, actor=None, status="published", **dataset_fields(title="Prostate MRI cohort")
    )
    liver = dataset_create(
        node=oslo, actor=None, status="published", **dataset_fields(title="Liver CT cohort")
    )
    Study.objects.create(dataset=catalogue.published, study_instance_uid=MINE, subject="DONOR-1")
    Study.objects.create(dataset=prostate, study_instance_uid=MINE_TOO, subject="DONOR-1")
    Study.objects.create(dataset=catalogue.published, study_instance_uid=THEIRS, subject="OTHER")
    Study.objects.create(dataset=liver, study_instance_uid=THEIRS, subject="OTHER")
    Study.objects.create(
        dataset=catalogue.other_published, study_instance_uid=VALENCIA, subject="DONOR-1"
    )
    link = _link(personas, oslo, "DONOR-1", personas["citizen"])
    covering = _permit(
        personas,
        [catalogue.published],
        title="Breast lesions",
        organisation="Instituto de Oncologia",
    )
    elsewhere = _permit(personas, [liver], title="Liver study", organisation="Liver Institute")
    valencia_permit = _permit(
        personas, [catalogue.other_published], title="Lung study", organisation="Lung Institute"
    )
    token = services.token_issue(permit=covering, node=oslo, actor=personas["researcher"]).record
    return SimpleNamespace(
        link=link,
        oslo=oslo,
        valencia=valencia,
        prostate=prostate,
        liver=liver,
        covering=covering,
        elsewhere=elsewhere,
        valencia_permit=valencia_permit,
        token=token,
        oslo_key=_report_key(oslo),
        valencia_key=_report_key(valencia),
    )


def _text(response) -> str:
    """The page's text as a reader sees it: tags dropped, spaces collapsed."""
    html = response.content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).replace(" .", ".").replace(" ,", ",")


def _page(client_for, persona="citizen", query=""):
    response = client_for(persona).get(URL + query)
    assert response.status_code == 200
    return _text(response)


def test_it_shows_the_permit_of_a_dataset_with_the_donors_study_and_no_other(client_for, donor):
    text = _page(client_for)
    number = donor.covering.number
    assert f"Permit {number}" in text
    start = donor.covering.starts_on.strftime("%-d %B %Y")
    end = donor.covering.ends_on.strftime("%-d %B %Y")
    assert (
        f"Between {start} and today, Instituto de Oncologia has been allowed to use data that "
        f"include your images, for: (e)(ii) Research: training, testing and evaluating "
        f"algorithms, including AI. The permit is active until {end}."
    ) in text
    assert "Breast MRI screening cohort (Oslo imaging node)" in text
    # The liver cohort holds another subject's study only; the Valencia dataset holds the same
    # pseudonym at another node: neither permit concerns this donor.
    assert donor.elsewhere.number not in text and "Liver Institute" not in text
    assert donor.valencia_permit.number not in text and "Lung Institute" not in text
    # Both of the donor's datasets are listed, each with their own studies counted.
    assert "Breast MRI screening cohort, at Oslo imaging node: 1 of your imaging studies" in text
    assert "Prostate MRI cohort, at Oslo imaging node: 1 of your imaging studies" in text
    assert "Liver CT cohort" not in text and "Lung CT collection" not in text
    # Organisation only: never the researcher's name or a token.
    researcher = donor.covering.holder
    assert researcher.display_name not in text and researcher.username not in text
    assert donor.token.jti not in client_for("citizen").get(URL).content.decode()


def test_it_tells_when_a_permit_was_suspended_revoked_or_ended(client_for, donor, personas):
    chair = personas["committee_chair"]
    services.permit_change(permit=donor.covering, actor=chair, change="suspend", reason="Audit")
    text = _page(client_for)
    today = donor.covering.starts_on.strftime("%-d %B %Y")
    assert f"The permit has been suspended since {today}" in text
    assert f"Suspended on {today}." in text
    services.permit_change(permit=donor.covering, actor=chair, change="revoke", reason="Breach")
    text = _page(client_for)
    assert (
        f"From {today} until {today}, when the permit was revoked, Instituto de Oncologia was "
        "allowed to use data that include your images"
    ) in text
    assert f"Suspended on {today}. Revoked on {today}." in text
    assert "active until" not in text


def test_it_shows_allowed_and_refused_requests_for_the_donors_studies_only(client_for, donor):
    jti = donor.token.jti
    at = int(time.time()) - 3600
    report(
        donor.oslo,
        donor.oslo_key,
        (jti, MINE, at, None),
        (jti, MINE_TOO, at + 60, Reason.STUDY_NOT_PERMITTED),
        (None, MINE, at + 120, Reason.MISSING_TOKEN),
        (jti, THEIRS, at + 180, None),  # another subject's study at the same node
        (None, None, at + 240, Reason.MALFORMED),  # no study at all
    )
    # The same StudyInstanceUID at another node is not the donor's study there.
    Study.objects.create(dataset=donor.liver, study_instance_uid=VALENCIA, subject="OTHER")
    report(donor.valencia, donor.valencia_key, (None, MINE, at + 300, Reason.EXPIRED))
    report(donor.valencia, donor.valencia_key, (None, VALENCIA, at + 360, Reason.EXPIRED))
    assert NodeAccessEvent.objects.count() == 7
    text = _page(client_for)
    number = donor.covering.number
    sent = (
        f"Oslo imaging node sent one of your imaging studies to a researcher working under "
        f"permit {number} of Instituto de Oncologia, for: (e)(ii) Research: training, testing "
        "and evaluating algorithms, including AI."
    )
    refused = (
        f"Oslo imaging node refused to send one of your imaging studies to a researcher working "
        f"under permit {number} of Instituto de Oncologia (for: (e)(ii) Research: training, "
        "testing and evaluating algorithms, including AI), because the permit does not cover "
        "the dataset that holds this study."
    )
    no_token = (
        "Oslo imaging node refused a request for one of your imaging studies, because the "
        "request came without an access token."
    )
    for sentence in (sent, refused, no_token):
        assert text.count(sentence) == 1, sentence
    # Newest first: the request without a token, the refusal, then the study sent.
    assert text.index(no_token) < text.index(refused) < text.index(sent)
    assert "It is in: Prostate MRI cohort." in text
    assert "Valencia" not in text.split("Requests for your imaging studies")[1]
    assert "could not be read" not in text
    assert text.count("On ") == 3


def test_another_citizen_sees_none_of_it(client_for, donor, personas):
    report(donor.oslo, donor.oslo_key, (donor.token.jti, MINE, int(time.time()), None))
    other = UserFactory(username="other_citizen", roles=[Role.CITIZEN])
    client = Client()
    client.force_login(other)
    text = _text(client.get(URL))
    assert "Your images are not linked to your account yet" in text
    assert "Ask the hospital that holds your images for a link code." in text
    assert donor.covering.number not in text and "DONOR-1" not in text
    assert "sent one of your imaging studies" not in text
    # Linked elsewhere: their own (empty) overview, still nothing of the first donor's.
    _link(personas, donor.valencia, "SOMEONE", other)
    text = _text(client.get(URL))
    assert "At Valencia imaging node, under the pseudonym SOMEONE" in text
    assert "No dataset includes your imaging studies yet." in text
    assert "No data permit has covered a dataset with your images so far." in text
    assert "No imaging node has reported a request for one of your studies so far." in text
    assert donor.covering.number not in text and "DONOR-1" not in text


def test_it_pages_the_requests_newest_first(client_for, donor):
    start = int(time.time()) - 10_000
    events = [(donor.token.jti, MINE, start + i * 60, None) for i in range(EVENTS_PER_PAGE + 5)]
    report(donor.oslo, donor.oslo_key, *events)
    first, second = _page(client_for), _page(client_for, query="?page=2")
    assert first.count("sent one of your imaging studies") == EVENTS_PER_PAGE
    assert second.count("sent one of your imaging studies") == 5
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    html = client_for("citizen").get(URL).content.decode()
    assert 'href="?permits=&amp;page=2#accesses" rel="next"' in html
    assert _moment_of(first, 0) > _moment_of(second, 0)


def _moment_of(text, index):
    return re.findall(r"On (\d+ \w+ \d{4} at \d\d:\d\d)", text)[index]


def test_its_queries_do_not_grow_with_links_studies_permits_or_events(
    client_for, donor, personas, catalogue, django_assert_max_num_queries
):
    report(donor.oslo, donor.oslo_key, (donor.token.jti, MINE, int(time.time()), None))
    with CaptureQueriesContext(connection) as few:
        _page(client_for)
    # Many more: a second link with studies in more datasets, more permits, many requests.
    _link(personas, donor.valencia, "DONOR-V", personas["citizen"])
    for i in range(30):
        Study.objects.create(
            dataset=donor.prostate if i % 2 else catalogue.other_published,
            study_instance_uid=f"1.2.826.0.1.3680043.8.498.2{i:02d}",
            subject="DONOR-1" if i % 2 else "DONOR-V",
        )
    _permit(personas, [donor.prostate], title="Prostate", organisation="Prostate Institute")
    _permit(personas, [donor.prostate], title="Prostate 2", organisation="Second Institute")
    now = int(time.time())
    report(
        donor.oslo,
        donor.oslo_key,
        *[(donor.token.jti, MINE, now - i, None) for i in range(200)],
        *[(None, MINE_TOO, now - i, Reason.EXPIRED) for i in range(200)],
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        text = _page(client_for)
    with django_assert_max_num_queries(9):  # as donor_overview promises
        donor_overview(personas["citizen"], permits_page=2, events_page=3)
    assert "Prostate Institute" in text and "Second Institute" in text
    assert text.count("On ") == EVENTS_PER_PAGE


def test_every_reason_code_has_plain_words():
    assert set(REASON_WORDS) == set(Reason)
    assert reason_words("a_newer_rule") == (
        "of a rule this portal does not describe yet (code “a_newer_rule”)"
    )


def test_citizens_find_it_in_their_navigation(client_for, donor):
    html = client_for("citizen").get(reverse("role_dashboard", args=["citizen"])).content.decode()
    assert f'href="{URL}"' in html and "Who used my data" in html


def test_the_citizens_page_has_a_who_used_my_data_section(client_for, donor):
    """Not only the navigation: the citizen's own page has a section that leads to it."""
    html = client_for("citizen").get(reverse("role_dashboard", args=["citizen"])).content.decode()
    section = html[html.index('id="uses-heading"') :]
    assert f'href="{URL}"' in section.split("</section>")[0]


def test_it_pages_the_permits_newest_first_and_keeps_the_requests_page(client_for, donor, personas):
    for i in range(PERMITS_PER_PAGE):
        _permit(personas, [donor.prostate], title=f"Prostate {i}", organisation=f"Institute {i}")
    first = _page(client_for, query="?permits=1&page=1")
    second = _page(client_for, query="?permits=2&page=1")
    assert first.count("Permit EHDS-") == PERMITS_PER_PAGE and second.count("Permit EHDS-") == 1
    # Newest first: the last one issued leads; the donor's first permit is alone on page 2.
    assert f"Institute {PERMITS_PER_PAGE - 1}" in first and donor.covering.number in second
    html = client_for("citizen").get(URL + "?page=1").content.decode()
    assert 'href="?permits=2&amp;page=1#permits" rel="next"' in html
    # A page that is not a number shows the first; one past the end, the last.
    assert _page(client_for, query="?permits=x") == _page(client_for)
    assert _page(client_for, query="?permits=99") == second
