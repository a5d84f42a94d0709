"""The register never shows a confidential field (EHDS Art 57(1)(j) publishes the application,
the decision and the results, not the applicant's file).

Every field the register's models have is declared public or confidential in
``access/register.py``. Here every confidential field that can hold a value of its own gets
a unique marker, and every register answer (pages, feed, JSON-LD, API, with and without
filters) is searched for every marker.
"""

import itertools

import pytest
from django.db import models
from django.test import Client
from django.urls import reverse

from access import services
from access.models import (
    Application,
    Clarification,
    Comment,
    ConflictOfInterest,
    Permit,
    TeamMember,
    Vote,
)
from access.register import CONFIDENTIAL, PUBLISHED
from portal.models import User

TEXT = (models.CharField, models.TextField)


def _field_names(model) -> set[str]:
    return {f.name for f in model._meta.concrete_fields} | {
        f.name for f in model._meta.many_to_many
    }


def test_every_field_of_the_registers_models_is_declared_public_or_confidential():
    assert set(PUBLISHED) == set(CONFIDENTIAL)
    for model in PUBLISHED:
        assert PUBLISHED[model] & CONFIDENTIAL[model] == set(), model
        assert PUBLISHED[model] | CONFIDENTIAL[model] == _field_names(model), model


def test_every_model_holding_part_of_an_application_is_declared():
    """A new model hanging off an application must be placed too."""
    from django.apps import apps

    holding = {
        model
        for model in apps.get_app_config("access").get_models()
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Application
    }
    assert holding <= set(PUBLISHED), holding - set(PUBLISHED)


@pytest.fixture
def confidential_world(access, personas, catalogue):
    """An application with every confidential part filled with a marker: received, decided,
    its decision published, its permits' results reported. Returns (application, markers)."""
    researcher, chair = personas["researcher"], personas["committee_chair"]
    application = access.new_application("Walked study")
    TeamMember.objects.create(
        application=application,
        email="teammate@example.org",
        role="x",
        status=TeamMember.Status.ACCEPTED,
        user=personas["other_researcher"],
    )
    application = services.application_submit(application=application, actor=researcher)
    review = application.reviews.first()
    Comment.objects.create(application=application, author=chair, body="x")
    Clarification.objects.create(
        application=application, committee=review.committee, requested_by=chair, question="x"
    )
    Vote.objects.create(review=review, member=personas["committee_member"], choice="approve")
    ConflictOfInterest.objects.create(review=review, member=personas["committee_member"])
    for r in application.reviews.all():
        services.review_decide(review=r, actor=chair, approve=True, conditions="Open results.")
    services.decision_publish(
        application=application, actor=personas["hdab_admin"], justification="Lawful use."
    )
    for permit in application.permits.all():
        services.results_update(permit=permit, actor=researcher, lay_summary="We found things.")
        services.result_output_add(
            permit=permit, actor=researcher, kind="model", title="A model",
            reference="https://models.example.org/m1",
        )  # fmt: skip

    counter = itertools.count(1)
    markers: dict[str, str] = {}

    def marker(label: str) -> str:
        value = f"ZQ{next(counter):04d}QZ"
        markers[value] = label
        return value

    rows = {
        model: model.objects.filter(**{path: application.pk})
        for model, path in [
            (Application, "pk"),
            (TeamMember, "application"),
            (Comment, "application"),
            (Clarification, "application"),
            (Vote, "review__application"),
            (ConflictOfInterest, "review__application"),
            (Permit, "application"),
        ]
    }
    from access.models import (
        ApplicationDataset,
        DecisionPublication,
        PermitResults,
        Review,
    )

    rows[ApplicationDataset] = ApplicationDataset.objects.filter(application=application)
    rows[Review] = Review.objects.filter(application=application)
    rows[DecisionPublication] = DecisionPublication.objects.filter(application=application)
    rows[PermitResults] = PermitResults.objects.filter(permit__application=application)
    people: set[int] = set()
    for model, names in CONFIDENTIAL.items():
        if model not in rows:
            assert not names or model.__name__ == "ResultOutput", model
            continue
        for name in sorted(names):
            field = model._meta.get_field(name)
            for row in rows[model]:
                if isinstance(field, TEXT) and not field.primary_key:
                    value = marker(f"{model.__name__}.{name}")
                    model.objects.filter(pk=row.pk).update(**{name: value})
                elif isinstance(field, models.JSONField):
                    model.objects.filter(pk=row.pk).update(**{name: [marker(name)]})
                elif isinstance(field, models.FileField):
                    model.objects.filter(pk=row.pk).update(**{name: f"ethics/{marker(name)}.pdf"})
                elif field.is_relation and field.related_model is User:
                    if field.many_to_many:
                        people |= set(getattr(row, name).values_list("pk", flat=True))
                    else:
                        people.add(getattr(row, f"{name}_id"))
    for person in User.objects.filter(pk__in=people - {None}):
        User.objects.filter(pk=person.pk).update(
            username=marker("username"),
            email=f"{marker('email')}@example.org",
            first_name=marker("first name"),
            last_name=marker("last name"),
        )
    return application, markers


def test_no_register_answer_shows_a_confidential_field(confidential_world, catalogue):
    application, markers = confidential_world
    assert len(markers) > 40  # every text part of the file, the people, the committees'
    anyone = Client()
    pk = application.pk
    filters = [
        {},
        {"q": "Walked"},
        {"purpose": application.purpose},
        {"dataset": catalogue.published.pk},
        {"organisation": application.organisation},
        {"year": application.submitted_at.year},
        {"outcome": "approved"},
    ]
    answers = {}
    for query in filters:
        answers[f"register {query}"] = anyone.get(reverse("access:register"), query)
        answers[f"api {query}"] = anyone.get(reverse("access_api:register"), query)
    answers["entry"] = anyone.get(reverse("access:register_entry", args=[pk]))
    answers["jsonld"] = anyone.get(reverse("access:register_entry_jsonld", args=[pk]))
    answers["api entry"] = anyone.get(reverse("access_api:register_entry", args=[pk]))
    answers["feed"] = anyone.get(reverse("access:register_feed"))
    answers["citizens"] = anyone.get(reverse("access:citizen_information"))
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        body = answer.content.decode()
        shown = {markers[m] for m in markers if m in body}
        assert shown == set(), f"{name} shows {shown}"
    # The walk reads real entries: the public parts are there
    entry = answers["entry"].content.decode()
    for public in ["Finding tumours earlier on scans", "Lawful use.", "We found things.",
                   "https://models.example.org/m1", "Open results."]:  # fmt: skip
        assert public in entry, public


def test_the_markers_are_visible_where_they_belong(confidential_world, client_for):
    """A check on the walk itself: the same markers do show on the applicant's own page."""
    application, markers = confidential_world
    title = Application.objects.get(pk=application.pk).title
    assert markers[title] == "Application.title"
    researcher = Application.objects.get(pk=application.pk).applicant
    client = Client()
    client.force_login(researcher)
    page = client.get(reverse("access:application_detail", args=[application.pk]))
    assert title in page.content.decode()
