"""The public register (EHDS Art 57(1)(j)): what an anonymous visitor finds, how it is searched,
the decision notices and their 30-working-day clock, the feed, the JSON-LD and the API."""

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rdflib import Graph, URIRef

from access import services
from access.clocks import add_working_days, publication_due
from access.models import Application, DecisionPublication
from access.selectors_register import publications_due
from catalogue.dcat import dataset_iri
from portal.models import AuditEvent
from portal.workflow import Incomplete, NotPermitted

DCT = "http://purl.org/dc/terms/"


def decide(application, chair, *, approve=True):
    for review in application.reviews.all():
        services.review_decide(
            review=review,
            actor=chair,
            approve=approve,
            reason="" if approve else "Committee-only reasoning about the team.",
            conditions="Results are published openly." if approve else "",
        )
    application.refresh_from_db()
    return application


def publish(application, hdab, text="The purpose is lawful and the safeguards suffice."):
    return services.decision_publish(application=application, actor=hdab, justification=text)


# --- Lay title and summary ----------------------------------------------------------------


def test_a_draft_without_lay_title_summary_or_ai_answer_cannot_be_submitted(access, personas):
    draft = access.draft
    Application.objects.filter(pk=draft.pk).update(lay_title="", lay_summary="", ai_use="")
    draft.refresh_from_db()
    with pytest.raises(Incomplete) as refused:
        services.application_submit(application=draft, actor=personas["researcher"])
    missing = " ".join(refused.value.messages)
    assert "title for the public register" in missing
    assert "summary for the public register" in missing
    assert "artificial intelligence" in missing
    services.application_update(
        application=draft,
        actor=personas["researcher"],
        lay_title="Scans for earlier diagnosis",
        lay_summary="A short plain summary.",
        ai_use="none",
    )
    submitted = services.application_submit(application=draft, actor=personas["researcher"])
    assert submitted.status == Application.Status.SUBMITTED


# --- What the register lists --------------------------------------------------------------


def test_an_anonymous_visitor_finds_received_applications_and_never_drafts(access):
    page = Client().get(reverse("access:register"))
    assert page.status_code == 200
    text = page.content.decode()
    assert reverse("access:register_entry", args=[access.submitted.pk]) in text
    assert reverse("access:register_entry", args=[access.draft.pk]) not in text
    entry = Client().get(reverse("access:register_entry", args=[access.submitted.pk]))
    body = entry.content.decode()
    for shown in [
        "Finding tumours earlier on scans",
        "Instituto de Oncologia",
        "Breast MRI screening cohort",
        "Lung CT collection",
        "Artificial intelligence models are trained, tested or evaluated",
        "Being assessed",
    ]:
        assert shown in body, shown


def test_a_decision_shows_only_once_the_access_body_published_it(access, personas):
    application = decide(access.submitted, personas["committee_chair"])
    url = reverse("access:register_entry", args=[application.pk])
    before = Client().get(url).content.decode()
    assert "Decided; the decision will be published" in before
    assert "Results are published openly." not in before  # the permit's conditions
    publish(application, personas["hdab_admin"])
    after = Client().get(url).content.decode()
    assert "Permit granted" in after
    assert "The purpose is lawful and the safeguards suffice." in after
    assert "Results are published openly." in after
    for permit in application.permits.all():
        assert permit.number in after
        assert permit.ends_on.isoformat() in after


def test_a_refusal_is_published_with_its_public_justification_not_the_committees(access, personas):
    application = decide(access.submitted, personas["committee_chair"], approve=False)
    publish(application, personas["hdab_admin"], "The data asked for exceed the purpose.")
    body = Client().get(reverse("access:register_entry", args=[application.pk])).content.decode()
    assert "Refused" in body
    assert "The data asked for exceed the purpose." in body
    assert "Committee-only reasoning" not in body


def test_only_the_access_body_publishes_and_only_once(access, personas):
    application = decide(access.submitted, personas["committee_chair"])
    with pytest.raises(NotPermitted):
        publish(application, personas["committee_chair"])
    with pytest.raises(ValidationError):
        publish(application, personas["hdab_admin"], "  ")
    publish(application, personas["hdab_admin"])
    with pytest.raises(services.InvalidTransition):
        publish(application, personas["hdab_admin"])
    assert AuditEvent.objects.filter(action="access.register.decision_published").count() == 1
    with pytest.raises(services.InvalidTransition):
        publish(access.new_application("Open", submit=True), personas["hdab_admin"])


def test_the_access_body_publishes_from_its_page(access, personas, client_for):
    application = decide(access.submitted, personas["committee_chair"])
    client = client_for("hdab_admin")
    url = reverse("access:decision_publish", args=[application.pk])
    refused = client.post(url, {"justification": ""})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    done = client.post(url, {"justification": "Lawful purpose, proportionate data."})
    assert done.status_code == 302
    assert (
        DecisionPublication.objects.get(application=application).published_by
        == (personas["hdab_admin"])
    )


# --- Search -------------------------------------------------------------------------------


@pytest.fixture
def several(access, personas, catalogue):
    """Besides ``access.submitted`` (research_ai, both datasets): a published refusal for
    the Oslo dataset only, by another organisation, for education."""
    other = services.application_create(
        applicant=personas["researcher"], title="Teaching set", datasets=[catalogue.published]
    )
    from tests.conftest import complete_application_fields

    services.application_update(
        application=other,
        actor=personas["researcher"],
        **complete_application_fields(
            organisation="Teaching Hospital Bergen",
            purpose="education",
            lay_title="A teaching collection of breast scans",
            lay_summary="Students learn to read breast scans.",
            ai_use="none",
        ),
    )
    other = services.application_submit(application=other, actor=personas["researcher"])
    decide(other, personas["committee_chair"], approve=False)
    publish(other, personas["hdab_admin"], "Teaching needs no pseudonymised data.")
    return other


def _titles(query: dict) -> set[str]:
    page = Client().get(reverse("access:register"), query).content.decode()
    return {t for t in ["Finding tumours earlier", "A teaching collection"] if t in page}


def test_the_register_is_searched_by_purpose_dataset_organisation_year_and_outcome(
    several, access, catalogue
):
    both = {"Finding tumours earlier", "A teaching collection"}
    this_year = timezone.localdate().year
    assert _titles({}) == both
    assert _titles({"purpose": "education"}) == {"A teaching collection"}
    assert _titles({"dataset": catalogue.other_published.pk}) == {"Finding tumours earlier"}
    assert _titles({"dataset": catalogue.published.pk}) == both
    assert _titles({"organisation": "bergen"}) == {"A teaching collection"}
    assert _titles({"year": this_year}) == both
    assert _titles({"outcome": "refused"}) == {"A teaching collection"}
    assert _titles({"outcome": "assessing"}) == {"Finding tumours earlier"}
    assert _titles({"q": "tumours"}) == {"Finding tumours earlier"}
    # A value that is not a choice is dropped, not an error
    assert _titles({"year": "1999", "purpose": "nonsense"}) == both


def test_the_register_list_reads_a_fixed_number_of_queries(access, several):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert Client().get(reverse("access:register")).status_code == 200
        return len(queries)

    few = count()
    for n in range(4):
        access.new_application(f"More {n}", submit=True)
    assert count() == few


def _with_results(application, personas):
    """``application`` approved, its decision published and its permits' results reported."""
    decide(application, personas["committee_chair"])
    publish(application, personas["hdab_admin"])
    for permit in application.permits.all():
        services.results_update(
            permit=permit, actor=personas["researcher"], lay_summary="What we found."
        )
        services.result_output_add(
            permit=permit,
            actor=personas["researcher"],
            kind="publication",
            title="A paper",
            reference="10.1234/paper",
        )


def test_the_api_and_the_feed_read_a_fixed_number_of_queries(access, several, personas):
    def count(name) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert Client().get(reverse(name)).status_code == 200
        return len(queries)

    _with_results(access.submitted, personas)
    few = {name: count(name) for name in ["access_api:register", "access:register_feed"]}
    for n in range(3):
        _with_results(access.new_application(f"More {n}", submit=True), personas)
    assert {name: count(name) for name in few} == few


# --- The publication clock ----------------------------------------------------------------


def test_working_days_skip_the_member_states_public_holidays(settings):
    # 8 December is a public holiday in Spain (a Tuesday in 2026), not in Norway.
    monday = date(2026, 12, 7)
    settings.HDAB_COUNTRY = "ES"
    assert add_working_days(monday, 1) == date(2026, 12, 9)
    settings.HDAB_COUNTRY = "NO"
    assert add_working_days(monday, 1) == date(2026, 12, 8)
    settings.HDAB_COUNTRY = ""
    assert add_working_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday → Monday


def test_the_publication_clock_runs_thirty_working_days_across_a_holiday(settings):
    # Spain, decided on Monday 30 November 2026: six weeks of weekdays end on 11 January
    # 2027; the holidays on 8 December, 25 December, 1 January and 6 January push it four
    # working days later.
    settings.HDAB_COUNTRY = "ES"
    assert publication_due(date(2026, 11, 30)) == date(2027, 1, 15)
    settings.HDAB_COUNTRY = ""
    assert publication_due(date(2026, 11, 30)) == date(2027, 1, 11)


def test_the_dashboard_shows_decisions_due_and_late(access, personas, client_for, settings):
    settings.HDAB_COUNTRY = "ES"
    application = decide(access.submitted, personas["committee_chair"])
    decided = timezone.make_aware(timezone.datetime(2026, 11, 30, 12))
    Application.objects.filter(pk=application.pk).update(decided_at=decided)
    [on_time] = publications_due(today=date(2027, 1, 15))
    assert on_time.due_on == date(2027, 1, 15) and not on_time.late
    [late] = publications_due(today=date(2027, 1, 16))
    assert late.late
    page = client_for("hdab_admin").get(reverse("role_dashboard", args=["hdab"]))
    body = page.content.decode()
    assert "2027-01-15" in body and "Late" in body
    publish(application, personas["hdab_admin"])
    assert publications_due(today=date(2027, 1, 16)) == []


# --- The feed, the JSON-LD and the API ----------------------------------------------------


def test_the_atom_feed_lists_the_entries(access):
    answer = Client().get(reverse("access:register_feed"))
    assert answer["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)  # noqa: S314  (the portal's own answer)
    atom = "{http://www.w3.org/2005/Atom}"
    links = [link.get("href") for link in feed.iter(f"{atom}link")]
    assert any(
        href.endswith(reverse("access:register_entry", args=[access.submitted.pk]))
        for href in links
    )
    titles = [t.text for t in feed.iter(f"{atom}title")]
    assert "Finding tumours earlier on scans (Being assessed)" in titles


def test_each_entry_is_json_ld_linked_to_the_datasets_dcat_iris(access, catalogue, settings):
    answer = Client().get(reverse("access:register_entry_jsonld", args=[access.submitted.pk]))
    assert answer["Content-Type"].startswith("application/ld+json")
    graph = Graph().parse(data=answer.content, format="json-ld")
    entry = URIRef(settings.SITE_URL + reverse("access:register_entry", args=[access.submitted.pk]))
    referenced = set(graph.objects(entry, URIRef(DCT + "references")))
    assert referenced == {
        dataset_iri(catalogue.published, base_url=settings.SITE_URL),
        dataset_iri(catalogue.other_published, base_url=settings.SITE_URL),
    }
    assert (entry, URIRef(DCT + "title"), None) in graph


def test_the_api_answers_anyone_with_the_register(access, personas, several):
    answer = Client().get(reverse("access_api:register"), {"outcome": "refused"})
    assert answer.status_code == 200
    [refused] = answer.json()["results"]
    assert refused["lay_title"] == "A teaching collection of breast scans"
    assert refused["decision"]["justification"] == "Teaching needs no pseudonymised data."
    assert refused["decision"]["permits"] == []
    one = Client().get(reverse("access_api:register_entry", args=[access.submitted.pk])).json()
    assert one["outcome"] == "assessing" and one["decision"] is None
    assert all(d["uri"].endswith(f"/catalogue/datasets/{d['id']}") for d in one["datasets"])
    missing = Client().get(reverse("access_api:register_entry", args=[access.draft.pk]))
    assert missing.status_code == 404


# --- Information for citizens -------------------------------------------------------------


def test_the_page_for_citizens_shows_the_deployments_contact_and_links_the_register(settings):
    settings.HDAB_NAME = "Datatilsynet for helse"
    settings.HDAB_EMAIL = "kontakt@helsedata.example.no"
    settings.SUPERVISORY_AUTHORITY_NAME = "Datatilsynet"
    settings.OPT_OUT_INFORMATION = "Call 800 to opt out of secondary use."
    body = Client().get(reverse("access:citizen_information")).content.decode()
    for shown in [
        "Datatilsynet for helse",
        "mailto:kontakt@helsedata.example.no",
        "you may complain to Datatilsynet",
        "Call 800 to opt out",
        reverse("access:register"),
        "Article 53",
    ]:
        assert shown in body, shown


def test_an_undecided_application_has_no_publishing_page(access, client_for):
    url = reverse("access:decision_publish", args=[access.submitted.pk])
    assert client_for("hdab_admin").get(url).status_code == 404
