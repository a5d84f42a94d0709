"""Valid FHIR times at the ends of the calendar ("9999-12-31", year 1 in another time zone) are
refused in words, naming the element, and leave nothing stored; the form bounds its last day;
a search for such a date says what is wrong with it."""

import copy
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalogue import duo
from consent import services
from consent.models import ConsentVersion
from portal.models import AuditEvent
from tests.consent.fhir_client import issues, put
from tests.consent.r5_examples import example
from tests.consent.test_pages import _donation_data, _stored


@pytest.fixture
def created(donor, client_for):
    return services.consent_write_fhir(
        resource=example("research", patient=donor.citizen.pseudonym), actor=donor.citizen
    ).resource


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("9999-12-31", "at most 100 years from today"),
        ("9999-12-30", "at most 100 years from today"),
        (None, "at most 100 years from today"),
    ],
)
def test_the_form_refuses_a_last_day_too_far_ahead(client_for, donor, until, message):
    if until is None:
        until = (timezone.localdate() + timedelta(days=100 * 366)).isoformat()
    client = client_for("citizen")
    before = _stored()
    response = client.post(reverse("consent:donation_form"), _donation_data(donor, until=until))
    assert response.status_code == 200
    assert message in response.context["form"].errors["until"][0]
    assert _stored() == before


def test_the_form_takes_a_last_day_a_hundred_years_ahead(client_for, donor):
    until = timezone.localdate() + timedelta(days=365 * 100 - 30)
    response = client_for("citizen").post(
        reverse("consent:donation_form"), _donation_data(donor, until=until.isoformat())
    )
    assert response.status_code == 302
    assert ConsentVersion.objects.get().resource["period"]["end"] == until.isoformat()


def test_the_service_refuses_the_last_day_of_the_calendar(donor):
    before = _stored()
    with pytest.raises(services.InvalidConsent) as refused:
        services.donation_create(
            citizen=donor.citizen, nodes=[donor.oslo], categories=["imaging"],
            purposes=["research"], duo_codes=[duo.HMB], until=date(9999, 12, 31),
        )  # fmt: skip
    assert [i.expression for i in refused.value.issues] == ["Consent.period.end"]
    assert _stored() == before


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda r: r["period"].update(end="9999-12-31"), "Consent.period.end"),
        (lambda r: r["period"].update(end="9999"), "Consent.period.end"),
        (
            lambda r: r["period"].update(start="0001-01-01T00:30:00+01:00"),
            "Consent.period.start",
        ),
        (lambda r: r.update(date="9999-12-31"), "Consent.date"),
        (
            lambda r: r["provision"][0]["period"].update(end="9999-12-31"),
            "Consent.provision[0].period.end",
        ),
    ],
)
def test_an_update_with_a_time_at_the_calendar_s_end_is_refused_naming_it(
    created, client_for, change, where
):
    body = copy.deepcopy(created)
    change(body)
    response = put(client_for("citizen"), created["id"], body)
    assert response.status_code == 400, response.content
    found = issues(response)
    assert [i["expression"] for i in found] == [[where]]
    assert "0001-01-02 to 9999-12-30" in found[0]["diagnostics"]
    assert ConsentVersion.objects.count() == 1
    assert not AuditEvent.objects.filter(action="consent.resource.updated").exists()


def test_an_update_with_the_last_storable_day_is_kept(created, client_for):
    body = copy.deepcopy(created)
    body["period"]["end"] = "9999-12-30"
    assert put(client_for("citizen"), created["id"], body).status_code == 200
    assert ConsentVersion.objects.get(version=2).period_end.year == 9999
    assert client_for("citizen").get(reverse("consent:history")).status_code == 200


@pytest.mark.parametrize("value", ["9999-12-31", "ge9999-12-31", "0001-01-01T00:30:00+01:00"])
def test_a_search_for_a_date_at_the_calendar_s_end_says_so(created, client_for, value):
    response = client_for("citizen").get("/fhir/Consent", {"date": value})
    assert response.status_code == 400
    diagnostics = issues(response)[0]["diagnostics"]
    assert "is not a FHIR date" not in diagnostics
    assert "too near the ends of the calendar" in diagnostics
