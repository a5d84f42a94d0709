"""The data quality and utility label (EHDS Art 78): computed from the index, explained on the
dataset page, exported in the DCAT, and the yearly review of the description behind it."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rdflib import RDF, RDFS, Graph, URIRef

from catalogue import quality
from catalogue.models import Dataset, Series, Study
from catalogue.services import node_set_gate_profile
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

DQV = quality.DQV


def index(dataset, series_rows, *, subjects=None, dated=True):
    """Index one study per row of ``series_rows`` (modality, body part, manufacturer, and
    optionally slice thickness and field strength: 1.0 mm and 3 T unless given), each of a
    subject of its own unless ``subjects`` says how many there are."""
    for n, row in enumerate(series_rows):
        modality, body_part, manufacturer = row[:3]
        thickness, strength = (*row[3:], 1.0, 3.0)[:2]
        study = Study.objects.create(
            dataset=dataset,
            study_instance_uid=f"1.2.3.{dataset.pk}.{n}",
            subject=f"S{n % subjects if subjects else n}",
            study_date=datetime.date(2015 + n % 5, 3, 1) if dated else None,
        )
        Series.objects.create(
            study=study,
            series_instance_uid=f"1.2.3.{dataset.pk}.{n}.1",
            modality=modality,
            body_part=body_part,
            manufacturer=manufacturer,
            slice_thickness=thickness,
            field_strength=strength if modality == "MR" else None,
            instance_count=10,
        )


def reviewed_days_ago(dataset, days):
    Dataset.objects.filter(pk=dataset.pk).update(
        reviewed_at=timezone.now() - datetime.timedelta(days=days)
    )
    dataset.refresh_from_db()


def result(label, key):
    return next(r for r in label.results if r.rule.key == key)


def test_a_dataset_without_indexed_images_is_not_rated(catalogue):
    label = quality.label_for(catalogue.published)

    assert label.level == quality.NONE
    assert "no images" in label.summary


def test_the_label_is_the_weakest_rule_and_names_it(catalogue):
    dataset = catalogue.published  # at a node with the strict gate (the default)
    reviewed_days_ago(dataset, 10)
    # 1000 people, every series complete except the manufacturer of 100 of them (90 %).
    rows = [("MR", "BREAST", "" if n < 100 else "Siemens") for n in range(1000)]
    index(dataset, rows)

    label = quality.label_for(dataset)

    assert result(label, "modality").level == quality.PLATINUM
    assert result(label, "manufacturer").shown == "90%"
    assert result(label, "manufacturer").level == quality.SILVER
    assert label.level == quality.SILVER
    assert [r.rule.key for r in label.held_back_by] == ["manufacturer"]
    assert "Gold needs at least 95%" in result(label, "manufacturer").next_step


def test_acquisition_parameters_count_where_they_apply(catalogue):
    dataset = catalogue.published
    reviewed_days_ago(dataset, 10)
    # 100 CT series, 10 without a slice thickness; 100 MR series, 5 without a field strength;
    # 800 mammograms, which have no slice thickness and do not count.
    rows = [("CT", "CHEST", "GE", None if n < 10 else 1.25) for n in range(100)]
    rows += [("MR", "BREAST", "GE", 2.0, None if n < 5 else 1.5) for n in range(100)]
    rows += [("MG", "BREAST", "GE", None) for _ in range(800)]
    index(dataset, rows)

    acquisition = result(quality.label_for(dataset), "acquisition")

    assert acquisition.shown == "92%"  # 185 of the 200 cross-sectional series
    assert acquisition.level == quality.SILVER
    only_mammograms = catalogue.other_published
    index(only_mammograms, [("MG", "BREAST", "GE", None)] * 3)
    assert result(quality.label_for(only_mammograms), "acquisition").level == quality.PLATINUM


def test_the_basic_gate_and_a_small_population_hold_the_label_back(catalogue):
    node_set_gate_profile(node=catalogue.own_node, profile="basic", actor=None)
    dataset = catalogue.published
    reviewed_days_ago(dataset, 10)
    index(dataset, [("CT", "CHEST", "GE")] * 30, subjects=10)

    label = quality.label_for(dataset)

    assert result(label, "subjects").value == 10
    assert result(label, "deidentification").shown == "basic"
    assert label.level == quality.BRONZE
    assert [r.rule.key for r in label.held_back_by] == ["subjects"]


def test_studies_without_dates_count_against_coverage_in_time(catalogue):
    dataset = catalogue.published
    index(dataset, [("CT", "CHEST", "GE")] * 5, dated=False)

    label = quality.label_for(dataset)

    assert result(label, "study_date").shown == "0%"
    assert result(label, "study_date").level == quality.BRONZE


def test_the_dataset_page_explains_the_label(catalogue, client):
    dataset = catalogue.published
    index(dataset, [("MR", "BREAST", "")] * 4)

    page = client.get(reverse("catalogue:dataset_detail", args=[dataset.pk])).content.decode()

    assert 'id="quality"' in page
    assert "Bronze" in page
    assert "held back by" in page
    assert "Series with the equipment manufacturer recorded" in page
    assert "Silver needs at least 80%" in page


def test_the_dcat_export_carries_the_label_as_a_quality_certificate(catalogue, client):
    dataset = catalogue.published
    index(dataset, [("MR", "BREAST", "Philips")] * 3)
    response = client.get(reverse("dcat_dataset_ttl", args=[dataset.pk]))
    graph = Graph().parse(data=response.content.decode(), format="turtle")

    iri = next(graph.subjects(RDF.type, URIRef("http://www.w3.org/ns/dcat#Dataset")))
    certificate = graph.value(iri, DQV.hasQualityAnnotation)
    assert (certificate, RDF.type, DQV.QualityCertificate) in graph
    assert (certificate, quality.OA.motivatedBy, DQV.qualityAssessment) in graph
    assert str(graph.value(certificate, RDFS.label)).endswith(": Bronze")


def test_an_operator_marks_the_description_reviewed_and_the_label_follows(catalogue, client_for):
    dataset = catalogue.published
    index(dataset, [("MR", "BREAST", "Philips")] * 3)
    reviewed_days_ago(dataset, 600)
    assert result(quality.label_for(dataset), "reviewed").level == quality.SILVER

    response = client_for("node_operator").post(
        reverse("catalogue:dataset_reviewed", args=[dataset.pk])
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert timezone.now() - dataset.reviewed_at < datetime.timedelta(minutes=1)
    assert result(quality.label_for(dataset), "reviewed").level == quality.PLATINUM
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.object_id) == ("catalogue.dataset.reviewed", str(dataset.pk))


def test_a_year_after_the_last_review_the_operator_is_prompted(catalogue, client_for):
    dataset = catalogue.published
    reviewed_days_ago(dataset, 400)
    operator = client_for("node_operator")

    dashboard = operator.get(reverse("role_dashboard", args=["node"])).content.decode()
    page = operator.get(reverse("catalogue:dataset_detail", args=[dataset.pk])).content.decode()
    assert 'id="reviews-due"' in dashboard and dataset.title in dashboard
    assert 'id="review-due"' in page

    operator.post(reverse("catalogue:dataset_reviewed", args=[dataset.pk]))

    dashboard = operator.get(reverse("role_dashboard", args=["node"])).content.decode()
    assert 'id="reviews-due"' not in dashboard


def test_the_daily_command_emails_the_operators_once(
    catalogue, personas, django_capture_on_commit_callbacks
):
    due, fresh = catalogue.published, catalogue.other_published
    reviewed_days_ago(due, 400)
    reviewed_days_ago(fresh, 100)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("remind_dataset_reviews", stdout=io.StringIO())
    assert [m.to for m in mail.outbox] == [[personas["node_operator"].email]]
    assert due.title in mail.outbox[0].body

    with django_capture_on_commit_callbacks(execute=True):
        call_command("remind_dataset_reviews", stdout=io.StringIO())
    assert len(mail.outbox) == 1  # not again the next day
