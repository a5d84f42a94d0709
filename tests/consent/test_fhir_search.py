"""Searching consents through the FHIR API: each parameter, dates as ranges with prefixes,
paging followed to the end, a bounded number of queries, and only what the caller may see."""

from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.bundle import Bundle

from consent import fhir, services
from portal.models import Role
from tests.consent.fhir_client import issues
from tests.consent.r5_examples import example
from tests.factories import UserFactory

# The dates (Consent.date) of the other citizens' consents, and whether each is in force.
OTHERS = [
    ("2025-12-31", "active"),
    ("2026-01-15", "inactive"),
    ("2026-03-01", "active"),
    ("2026-03-31", "active"),
    ("2026-04-01", "inactive"),
]


def _write(citizen, name, date, status="active"):
    resource = example(name, patient=citizen.pseudonym)
    resource["date"] = date
    resource["status"] = status
    return services.consent_write_fhir(resource=resource, actor=citizen)


@pytest.fixture
def consents(donor):
    """Seven consents: the donor's opt-out (2015-11-18) and permit (2023-02-01),
    and one consent of each of five other citizens (``OTHERS``), written in this order.
    ``middle`` is a moment between the third and the fourth write."""
    written = [
        _write(donor.citizen, "opt-out", "2015-11-18"),
        _write(donor.citizen, "not-this", "2023-02-01"),
    ]
    middle = None
    for index, (date, status) in enumerate(OTHERS):
        if index == 1:
            middle = timezone.now()
        written.append(_write(UserFactory(roles=[Role.CITIZEN]), "grantor", date, status))
    by_date = {v.resource["date"]: v.record_id for v in written}
    return SimpleNamespace(donor=donor.citizen, versions=written, by_date=by_date, middle=middle)


def found(response):
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return bundle


def dates(response):
    return sorted(e["resource"]["date"] for e in found(response).get("entry", []))


def test_it_answers_a_searchset_of_the_current_versions_newest_first(consents, client_for):
    services.consent_write_fhir(
        resource={**consents.versions[0].resource, "status": "inactive"},
        actor=consents.donor,
        record=consents.versions[0].record,
    )
    bundle = found(client_for("hdab_admin").get("/fhir/Consent"))
    Bundle.model_validate(bundle)
    assert bundle["total"] == 7
    entries = bundle["entry"]
    assert entries[0]["resource"]["meta"]["versionId"] == "2"  # the opt-out, changed last
    assert entries[0]["resource"]["status"] == "inactive"
    assert [e["resource"]["id"] for e in entries[1:]] == [
        v.record_id for v in reversed(consents.versions[1:])
    ]
    assert all(e["search"] == {"mode": "match"} for e in entries)
    assert entries[0]["fullUrl"] == f"http://testserver/fhir/Consent/{entries[0]['resource']['id']}"


@pytest.mark.parametrize("form", ["Patient/{}", "{}"])
def test_patient_takes_a_reference_or_an_id(consents, client_for, form):
    response = client_for("hdab_admin").get(
        "/fhir/Consent", {"patient": form.format(consents.donor.pseudonym)}
    )
    assert dates(response) == ["2015-11-18", "2023-02-01"]


def test_patient_refers_to_a_patient(consents, client_for):
    response = client_for("hdab_admin").get("/fhir/Consent", {"patient": "Group/7"})
    assert response.status_code == 400
    assert "patient" in issues(response)[0]["diagnostics"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["2015-11-18", "2023-02-01", "2025-12-31", "2026-03-01", "2026-03-31"]),
        ("inactive", ["2026-01-15", "2026-04-01"]),
        ("inactive,draft", ["2026-01-15", "2026-04-01"]),
        ("http://hl7.org/fhir/consent-state-codes|inactive", ["2026-01-15", "2026-04-01"]),
        ("http://example.org/other|active", []),
        ("agreed", []),
    ],
)
def test_status(consents, client_for, status, expected):
    assert dates(client_for("hdab_admin").get("/fhir/Consent", {"status": status})) == expected


ALL = sorted(["2015-11-18", "2023-02-01"] + [date for date, _status in OTHERS])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2026"], ["2026-01-15", "2026-03-01", "2026-03-31", "2026-04-01"]),
        (["2026-03"], ["2026-03-01", "2026-03-31"]),
        (["eq2026-03-01"], ["2026-03-01"]),
        (["ne2026-03"], [d for d in ALL if not d.startswith("2026-03")]),
        (["lt2026"], ["2015-11-18", "2023-02-01", "2025-12-31"]),
        (["le2026-01"], ["2015-11-18", "2023-02-01", "2025-12-31", "2026-01-15"]),
        (["gt2026-03"], ["2026-04-01"]),
        (["ge2026-03"], ["2026-03-01", "2026-03-31", "2026-04-01"]),
        (["sa2026-03-01"], ["2026-03-31", "2026-04-01"]),
        (["eb2026"], ["2015-11-18", "2023-02-01", "2025-12-31"]),
        (["ge2026-01-01", "lt2026-04"], ["2026-01-15", "2026-03-01", "2026-03-31"]),
        (["2015,2023"], ["2015-11-18", "2023-02-01"]),
        # A day is not within a minute of it, but reaches past the minute.
        (["2026-03-01T10:00Z"], []),
        (["ge2026-03-01T10:00:00Z"], ["2026-03-01", "2026-03-31", "2026-04-01"]),
        (
            ["lt2026-03-01T10:00:00+02:00"],
            ["2015-11-18", "2023-02-01", "2025-12-31", "2026-01-15", "2026-03-01"],
        ),
    ],
)
def test_date_compares_ranges_with_prefixes(consents, client_for, values, expected):
    response = client_for("hdab_admin").get("/fhir/Consent", {"date": values})
    assert dates(response) == expected


def test_last_updated(consents, client_for):
    client = client_for("hdab_admin")
    after = dates(
        client.get("/fhir/Consent", {"_lastUpdated": f"gt{fhir.instant(consents.middle)}"})
    )
    assert after == ["2026-01-15", "2026-03-01", "2026-03-31", "2026-04-01"]
    before = dates(
        client.get("/fhir/Consent", {"_lastUpdated": f"lt{fhir.instant(consents.middle)}"})
    )
    assert before == ["2015-11-18", "2023-02-01", "2025-12-31"]
    this_year = timezone.now().strftime("%Y")
    assert len(dates(client.get("/fhir/Consent", {"_lastUpdated": this_year}))) == 7
    assert dates(client.get("/fhir/Consent", {"_lastUpdated": "lt2000"})) == []


@pytest.mark.parametrize(
    "params",
    [
        {"date": "yesterday"},
        {"date": "2026-13"},
        {"date": "ap2026"},
        {"_lastUpdated": "ge2026-02-30"},
        {"_count": "-1"},
        {"_count": "ten"},
        {"_page": "0"},
        {"status": "active,"},
    ],
)
def test_values_it_cannot_read_are_refused(consents, client_for, params):
    response = client_for("hdab_admin").get("/fhir/Consent", params)
    assert response.status_code == 400
    assert issues(response)[0]["diagnostics"]


@pytest.mark.parametrize("name", ["subject", "status:not", "_sort", "_include"])
def test_unknown_parameters_are_refused_unless_the_client_prefers_lenience(
    consents, client_for, name
):
    client = client_for("hdab_admin")
    refused = client.get("/fhir/Consent", {name: "x"})
    assert refused.status_code == 400
    assert issues(refused)[0]["code"] == "not-supported"
    assert name in issues(refused)[0]["diagnostics"]
    lenient = found(
        client.get(
            "/fhir/Consent",
            {name: "x", "status": "inactive"},
            headers={"Prefer": "return=representation, handling=lenient"},
        )
    )
    assert lenient["total"] == 2
    self_link = next(link["url"] for link in lenient["link"] if link["relation"] == "self")
    assert set(parse_qs(urlsplit(self_link).query)) == {"status", "_count", "_page"}


def test_count_is_capped_and_zero_gives_the_total_only(consents, client_for):
    client = client_for("hdab_admin")
    capped = found(client.get("/fhir/Consent", {"_count": "500"}))
    self_link = next(link["url"] for link in capped["link"] if link["relation"] == "self")
    assert parse_qs(urlsplit(self_link).query)["_count"] == ["100"]
    assert len(capped["entry"]) == 7
    counted = found(client.get("/fhir/Consent", {"_count": "0"}))
    assert counted["total"] == 7 and "entry" not in counted


def test_paging_links_lead_through_every_result_and_back(consents, client_for):
    client = client_for("hdab_admin")
    url = "/fhir/Consent?status=active,inactive&_count=2"
    seen, pages = [], 0
    while url:
        bundle = found(client.get(url))
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert bundle["total"] == 7
        assert parse_qs(urlsplit(links["self"]).query)["status"] == ["active,inactive"]
        assert ("previous" in links) == (pages > 0)
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        pages += 1
        url = links.get("next")
    assert pages == 4
    assert seen == [v.record_id for v in reversed(consents.versions)]
    last = found(client.get(links["previous"]))
    assert [e["resource"]["id"] for e in last["entry"]] == seen[4:6]
    assert links["last"] == links["self"]
    beyond = found(client.get("/fhir/Consent?_count=2&_page=9"))
    assert beyond["total"] == 7 and "entry" not in beyond


@pytest.mark.parametrize("persona", ["hdab_admin", "node_operator", "citizen"])
def test_a_search_takes_as_many_queries_whatever_the_page_size(consents, client_for, persona):
    client = client_for(persona)
    client.get("/fhir/Consent?_count=1")  # the session is read once
    counts = []
    for size in (1, 100):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/fhir/Consent?_count={size}&status=active,inactive")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 12


def test_each_caller_finds_only_what_they_may_see(consents, another_citizen, client_for):
    own = found(client_for("citizen").get("/fhir/Consent"))
    assert {e["resource"]["subject"]["reference"] for e in own["entry"]} == {
        f"Patient/{consents.donor.pseudonym}"
    }
    assert own["total"] == 2
    # The operator runs the nodes where the donor linked images; the others linked none.
    operated = found(client_for("node_operator").get("/fhir/Consent"))
    assert operated["total"] == 2
    for persona in ("outsider", "researcher", "committee_member", "committee_chair"):
        nothing = found(client_for(persona).get("/fhir/Consent"))
        assert nothing["total"] == 0 and "entry" not in nothing, persona
    someone_else = client_for("citizen").get(
        "/fhir/Consent", {"patient": consents.versions[2].resource["subject"]["reference"]}
    )
    assert found(someone_else)["total"] == 0
