"""A permit's results through the API (EHDS Art 61(4)): the holder records the summary for the
public and the outputs, as on the results page; the register shows them once both are there;
nobody else reads or changes them."""

import json
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from access import services
from access.clocks import results_due
from access.models import PermitResults, ResultOutput
from portal.api_errors import PROBLEM_JSON
from portal.models import AuditEvent


def _url(permit, rest=""):
    return f"/api/access/permits/{permit.pk}/results/{rest}"


def _send(client, method, path, body):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def _problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == PROBLEM_JSON
    return answer.json()


def _register_results(permit):
    answer = Client().get(f"/api/access/register/{permit.application_id}/")
    assert answer.status_code == 200
    (shown,) = [p for p in answer.json()["decision"]["permits"] if p["number"] == permit.number]
    return shown["results"]


@pytest.fixture
def published(permit, personas):
    """``permit`` with its decision published, so that its register entry shows permits."""
    services.decision_publish(
        application=permit.application, actor=personas["hdab_admin"], justification="Lawful."
    )
    return permit


def test_the_holder_records_results_and_the_register_shows_them_once_complete(
    published, client_for
):
    holder = client_for("researcher")
    empty = holder.get(_url(published))
    assert empty.status_code == 200
    assert empty.json()["outputs"] == [] and empty.json()["reported_at"] is None
    assert empty.json()["due_on"] == results_due(published).isoformat()  # 18 months on

    added = _send(
        holder,
        "post",
        _url(published, "outputs/"),
        {"kind": "publication", "title": "Early detection", "reference": "doi:10.5555/ecii.1"},
    )
    assert added.status_code == 201, added.content
    (output,) = added.json()["outputs"]
    assert output["reference"] == "10.5555/ecii.1"  # kept as a DOI
    assert output["link"] == "https://doi.org/10.5555/ecii.1"
    assert output["kind_label"] == "Publication"
    assert _register_results(published) is None  # no summary yet

    summary = _send(holder, "put", _url(published), {"lay_summary": "Found earlier."})
    assert summary.status_code == 200
    assert summary.json()["lay_summary"] == "Found earlier."
    assert summary.json()["reported_at"] is not None
    shown = _register_results(published)
    assert shown["summary"] == "Found earlier."
    assert [o["title"] for o in shown["outputs"]] == ["Early detection"]
    assert list(
        AuditEvent.objects.filter(action__startswith="access.results.")
        .order_by("seq")
        .values_list("action", flat=True)
    ) == [
        "access.results.output_added",
        "access.results.summary_changed",
        "access.results.reported",
    ]


def test_the_due_day_follows_an_extension(permit, client_for, personas):
    services.results_extend(
        permit=permit, actor=personas["hdab_admin"], until=date(2031, 3, 1), reason="Delays."
    )
    assert client_for("researcher").get(_url(permit)).json()["due_on"] == "2031-03-01"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "poster", "title": "T", "reference": "https://x.org"}, "kind"),
        ({"kind": "software", "title": "", "reference": "https://x.org"}, "title"),
        ({"kind": "software", "title": "T", "reference": "not a reference"}, "reference"),
        ({"kind": "software", "title": "T" * 301, "reference": "https://x.org"}, "title"),
        ({"kind": "software", "title": "T"}, "reference"),
    ],
)
def test_a_bad_output_is_refused_and_nothing_is_stored(permit, client_for, body, field):
    problem = _problem(_send(client_for("researcher"), "post", _url(permit, "outputs/"), body), 400)
    assert field in problem["errors"]
    assert not ResultOutput.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="access.results.").exists()


def test_an_empty_summary_is_refused(permit, client_for):
    for body in ({"lay_summary": "   "}, {}):
        problem = _problem(_send(client_for("researcher"), "put", _url(permit), body), 400)
        assert "lay_summary" in problem["errors"]
    assert not PermitResults.objects.filter(lay_summary__gt="").exists()


def test_the_holder_removes_an_output_recorded_by_mistake(permit, client_for, personas):
    output = services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="model", title="M", reference="10.5555/x"
    )
    holder = client_for("researcher")
    assert holder.delete(_url(permit, f"outputs/{output.pk}/")).status_code == 204
    assert not ResultOutput.objects.exists()
    removed = AuditEvent.objects.get(action="access.results.output_removed")
    assert removed.details["reference"] == "10.5555/x"  # the log keeps what was removed
    assert holder.delete(_url(permit, f"outputs/{output.pk}/")).status_code == 404


def test_nobody_but_the_holder_reads_or_changes_them(permit, client_for, personas):
    output = services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="model", title="M", reference="10.5555/x"
    )
    for persona in ("other_researcher", "committee_chair", "hdab_admin", "citizen"):
        client = client_for(persona)
        assert client.get(_url(permit)).status_code == 404
        assert _send(client, "put", _url(permit), {"lay_summary": "Mine."}).status_code == 404
        body = {"kind": "model", "title": "X", "reference": "10.5555/y"}
        assert _send(client, "post", _url(permit, "outputs/"), body).status_code == 404
        assert client.delete(_url(permit, f"outputs/{output.pk}/")).status_code == 404
    assert Client().get(_url(permit)).status_code == 403  # signed out
    assert ResultOutput.objects.get().title == "M"


def test_an_output_is_removed_only_through_its_own_permit(permit, client_for, personas):
    """The holder of two permits cannot reach one permit's output through the other's URL."""
    output = services.result_output_add(
        permit=permit.other,
        actor=personas["researcher"],
        kind="model",
        title="M",
        reference="10.5555/x",
    )
    answer = client_for("researcher").delete(_url(permit, f"outputs/{output.pk}/"))
    assert answer.status_code == 404
    assert ResultOutput.objects.filter(pk=output.pk).exists()


def test_reading_them_takes_a_bounded_number_of_queries(permit, client_for, personas):
    holder = client_for("researcher")

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert holder.get(_url(permit)).status_code == 200
        return len(queries)

    services.result_output_add(
        permit=permit, actor=personas["researcher"], kind="model", title="M", reference="10.5555/x"
    )
    one = count()
    for n in range(5):
        services.result_output_add(
            permit=permit, actor=personas["researcher"], kind="model", title=f"M{n}",
            reference=f"10.5555/x{n}",
        )  # fmt: skip
    assert count() == one
