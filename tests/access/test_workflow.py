"""The whole way from a basket to a data permit, through the services."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from access import services
from access.models import Application, InvalidTransition, Permit, Review
from portal.audit import verify_chain
from portal.models import AuditEvent


def _review(application, committee):
    return Review.objects.get(application=application, committee=committee)


def test_it_ends_with_a_permit_for_exactly_the_approved_dataset(
    access, personas, catalogue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        application = access.new_application(submit=True)
    assert application.status == "submitted"
    assert {r.committee.name for r in application.reviews.all()} == {"Oslo DAC", "Valencia DAC"}
    assert application.decision_due is not None
    # Committees were told, one message per member.
    assert {m.to[0] for m in mail.outbox} >= {
        "committee_chair@example.org",
        "committee_member@example.org",
    }

    chair = personas["committee_chair"]
    with django_capture_on_commit_callbacks(execute=True):
        services.review_decide(
            review=_review(application, access.oslo),
            actor=chair,
            approve=True,
            conditions="Publish results within 18 months.",
        )
        services.vote_cast(
            review=_review(application, access.valencia),
            actor=chair,
            choice="reject",
            reason="The purpose does not need pseudonymised data.",
        )
    application.refresh_from_db()
    assert application.status == "partially_approved"
    permit = Permit.objects.get(application=application)
    assert list(permit.datasets.all()) == [catalogue.published]
    assert permit.holder == personas["researcher"] and permit.status == "active"
    assert permit.conditions == "Publish results within 18 months."
    assert (permit.ends_on - permit.starts_on).days in range(725, 735)  # 24 months requested
    decision_mail = [m for m in mail.outbox if "Decision" in m.subject]
    assert decision_mail and decision_mail[0].to == ["researcher@example.org"]
    assert "does not need pseudonymised data" in decision_mail[0].body
    assert decision_mail[0].alternatives[0][1] == "text/html"
    events = AuditEvent.objects.filter(object_type="access.application", object_id=application.pk)
    actions = list(events.order_by("seq").values_list("action", flat=True))
    assert actions[:4] == [
        "access.application.created",
        "access.application.updated",
        "access.application.submitted",
        "access.application.under_review",
    ]
    assert {
        "access.review.approved",
        "access.review.rejected",
        "access.application.partially_approved",
    } <= set(actions)
    assert AuditEvent.objects.filter(action="access.permit.issued", object_id=permit.pk).exists()
    assert verify_chain().ok


def test_it_lists_every_missing_item_and_changes_nothing(access, personas):
    application = services.application_create(
        applicant=personas["researcher"],
        title="Thin",
        datasets=[access.draft.items.first().dataset],
    )
    before = AuditEvent.objects.count()
    with pytest.raises(services.IncompleteApplication) as refused:
        services.application_submit(application=application, actor=personas["researcher"])
    missing = " | ".join(refused.value.messages)
    for item in [
        "purpose from EHDS Article 53(1)",
        "intended use",
        "safeguards",
        "ethics",
        "Article 54",
    ]:
        assert item in missing
    application.refresh_from_db()
    assert application.status == "draft" and application.submitted_at is None
    assert AuditEvent.objects.count() == before


def test_it_refuses_reserved_purposes_for_private_applicants(access, personas):
    application = services.application_update(
        application=access.draft, actor=personas["researcher"], purpose="statistics"
    )
    assert any("Article 53(2)" in m for m in services.missing_items(application))


def test_it_refuses_an_unknown_duo_code_and_keeps_the_draft(access, personas):
    with pytest.raises(ValidationError, match="Unknown DUO"):
        services.application_update(
            application=access.draft, actor=personas["researcher"], duo_codes=["DUO:1"], title="New"
        )
    access.draft.refresh_from_db()
    assert access.draft.title == "Draft study"


def test_it_requires_invited_team_members_to_answer(
    access, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member = services.team_invite(
            application=access.draft,
            actor=personas["researcher"],
            email="other_researcher@example.org",
        )
    assert mail.outbox[-1].to == ["other_researcher@example.org"]
    assert member.token in mail.outbox[-1].body
    assert any("has not answered" in m for m in services.missing_items(access.draft))
    with pytest.raises(ValidationError, match="another email"):
        services.team_answer(token=member.token, user=personas["citizen"], accept=True)
    services.team_answer(token=member.token, user=personas["other_researcher"], accept=True)
    application = services.application_submit(
        application=access.draft, actor=personas["researcher"]
    )
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permits = Permit.objects.filter(application=application)
    assert permits.count() == 2
    for permit in permits:
        assert set(permit.authorised_persons.all()) == {
            personas["researcher"],
            personas["other_researcher"],
        }


def test_it_pre_screens_each_dataset_at_submission(access):
    items = {i.dataset.title: i for i in access.submitted.items.select_related("dataset")}
    # The Lung CT dataset is for non-commercial HMB use; the application declares HMB research.
    assert items["Lung CT collection"].prescreen_outcome in {"compatible", "needs_judgement"}
    assert items["Lung CT collection"].prescreen_findings
    assert all(i.prescreen_outcome for i in items.values())


def test_it_asks_for_clarification_and_resumes_when_answered(access, personas):
    review = _review(access.submitted, access.oslo)
    services.clarification_request(
        review=review,
        actor=personas["committee_member"],
        question="Which scanners?",
        incomplete=True,
    )
    application = Application.objects.get(pk=access.submitted.pk)
    assert application.status == "clarification_requested"
    assert application.decision_due is None and application.completion_due is not None
    with pytest.raises(InvalidTransition):
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    services.clarification_answer(
        application=application, actor=personas["researcher"], answer="Siemens 3T."
    )
    application.refresh_from_db()
    assert application.status == "under_review" and application.decision_due is not None
    assert application.clarifications.get().answer == "Siemens 3T."


def test_it_keeps_conflicted_members_from_voting(access, personas):
    review = _review(access.submitted, access.oslo)
    services.conflict_declare(review=review, actor=personas["committee_member"], note="Co-author")
    with pytest.raises(ValidationError, match="conflict of interest"):
        services.vote_cast(review=review, actor=personas["committee_member"], choice="approve")


@pytest.mark.parametrize(
    ("rule", "votes", "expected"),
    [
        ("majority", ["approve"], "pending"),  # 1 of 3: not yet
        ("majority", ["approve", "approve"], "approved"),
        ("majority", ["reject", "reject"], "rejected"),
        ("majority", ["approve", "abstain", "reject"], "rejected"),  # no majority for approval
        ("unanimous", ["approve", "approve"], "pending"),
        ("unanimous", ["approve", "approve", "approve"], "approved"),
        ("unanimous", ["approve", "reject"], "rejected"),
        ("unanimous", ["approve", "approve", "abstain"], "rejected"),
        ("chair", ["approve", "approve", "approve"], "pending"),  # the chair decides
    ],
)
def test_it_applies_the_committee_decision_rule(access, personas, rule, votes, expected):
    from tests.factories import UserFactory

    access.oslo.decision_rule = rule
    access.oslo.save()
    third = UserFactory(username="third", roles=["committee_member"])
    services.committee_add_member(committee=access.oslo, user=third, actor=None)
    voters = [personas["committee_chair"], personas["committee_member"], third]
    review = _review(access.submitted, access.oslo)
    for voter, choice in zip(voters, votes, strict=False):
        services.vote_cast(
            review=review, actor=voter, choice=choice, reason="r" if choice == "reject" else ""
        )
    review.refresh_from_db()
    assert review.status == expected


def test_it_needs_reasons_to_reject(access, personas):
    review = _review(access.submitted, access.oslo)
    with pytest.raises(ValidationError, match="reasons"):
        services.review_decide(review=review, actor=personas["committee_chair"], approve=False)
    with pytest.raises(ValidationError, match="reasons"):
        services.vote_cast(review=review, actor=personas["committee_member"], choice="reject")


def test_it_lets_only_the_chair_decide(access, personas):
    with pytest.raises(services.NotPermitted, match="Only the chair"):
        services.review_decide(
            review=_review(access.submitted, access.oslo),
            actor=personas["committee_member"],
            approve=True,
        )


def test_it_caps_permits_at_ten_years(access, personas):
    import datetime

    with pytest.raises(ValidationError, match="10 years"):
        services.review_decide(
            review=_review(access.submitted, access.oslo),
            actor=personas["committee_chair"],
            approve=True,
            ends_on=datetime.date.today() + datetime.timedelta(days=3700),
        )


def test_it_extends_the_deadline_once_with_a_reason(access, personas):
    application = access.submitted
    due = application.decision_due
    with pytest.raises(ValidationError, match="why"):
        services.deadline_extend(
            application=application, actor=personas["committee_chair"], reason=""
        )
    services.deadline_extend(
        application=application, actor=personas["committee_chair"], reason="Complex"
    )
    application.refresh_from_db()
    assert application.decision_due == services.months_later(due, services.EXTENSION_PERIOD)
    assert application.extension_reason == "Complex"
    with pytest.raises(InvalidTransition, match="once"):
        services.deadline_extend(
            application=application, actor=personas["hdab_admin"], reason="Again"
        )


def test_it_withdraws_and_closes_reviews(access, personas):
    services.application_withdraw(application=access.submitted, actor=personas["researcher"])
    assert set(access.submitted.reviews.values_list("status", flat=True)) == {"closed"}
    with pytest.raises(InvalidTransition):
        services.review_decide(
            review=_review(access.submitted, access.oslo),
            actor=personas["committee_chair"],
            approve=True,
        )


def test_it_suspends_reactivates_revokes_and_expires_permits(access, personas):
    import datetime

    for review in access.submitted.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    permit = Permit.objects.filter(application=access.submitted).first()
    chair = personas["committee_chair"]
    with pytest.raises(ValidationError, match="reason"):
        services.permit_change(permit=permit, actor=chair, change="suspend")
    services.permit_change(permit=permit, actor=chair, change="suspend", reason="Audit pending")
    services.permit_change(permit=permit, actor=chair, change="reactivate")
    with pytest.raises(services.NotPermitted, match="chair"):
        services.permit_change(
            permit=permit, actor=personas["researcher"], change="revoke", reason="x"
        )
    services.permit_change(
        permit=permit, actor=personas["hdab_admin"], change="revoke", reason="Breach"
    )
    permit.refresh_from_db()
    assert permit.status == "revoked"
    with pytest.raises(InvalidTransition):
        services.permit_change(permit=permit, actor=chair, change="reactivate")
    other = Permit.objects.filter(application=access.submitted).exclude(pk=permit.pk).get()
    later = other.ends_on + datetime.timedelta(days=1)
    assert [p.pk for p in services.permits_expire(today=later)] == [other.pk]
    assert services.permits_expire(today=later) == []  # idempotent
    actions = AuditEvent.objects.filter(object_type="access.permit").values_list(
        "action", flat=True
    )
    assert {
        "access.permit.suspended",
        "access.permit.reactivated",
        "access.permit.revoked",
        "access.permit.expired",
    } <= set(actions)


def test_it_keeps_the_end_date_a_chair_set_when_another_committee_decides_later(access, personas):
    import datetime

    end = datetime.date.today() + datetime.timedelta(days=100)
    services.review_decide(
        review=_review(access.submitted, access.oslo),
        actor=personas["committee_chair"],
        approve=True,
        ends_on=end,
    )
    services.review_decide(
        review=_review(access.submitted, access.valencia),
        actor=personas["committee_chair"],
        approve=True,
    )
    oslo_permit = Permit.objects.get(review__committee=access.oslo)
    assert oslo_permit.ends_on == end
    assert Permit.objects.get(review__committee=access.valencia).ends_on != end


def test_it_refuses_unpublished_datasets_and_closed_invitations(access, personas, catalogue):
    with pytest.raises(ValidationError, match="published datasets"):
        services.application_create(
            applicant=personas["researcher"], title="X", datasets=[catalogue.draft]
        )
    member = services.team_invite(
        application=access.draft, actor=personas["researcher"], email="other_researcher@example.org"
    )
    services.application_withdraw(application=access.draft, actor=personas["researcher"])
    with pytest.raises(InvalidTransition, match="lapsed"):
        services.team_answer(token=member.token, user=personas["other_researcher"], accept=True)


def test_it_queues_questions_from_two_committees(access, personas):
    for committee in (access.oslo, access.valencia):
        services.clarification_request(
            review=_review(access.submitted, committee),
            actor=personas["committee_chair"],
            question=f"Question from {committee}",
        )
    services.clarification_answer(
        application=access.submitted, actor=personas["researcher"], answer="Both answered."
    )
    assert set(access.submitted.clarifications.values_list("answer", flat=True)) == {
        "Both answered."
    }


def test_it_deletes_a_superseded_ethics_document(
    access, personas, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile

    first = ContentFile(b"%PDF-1.4 first", name="first.pdf")
    second = ContentFile(b"%PDF-1.4 second", name="second.pdf")
    with django_capture_on_commit_callbacks(execute=True):
        application = services.application_update(
            application=access.draft, actor=personas["researcher"], ethics_approval=first
        )
    storage, old_name = application.ethics_approval.storage, application.ethics_approval.name
    assert storage.exists(old_name)
    with django_capture_on_commit_callbacks(execute=True):
        application = services.application_update(
            application=application, actor=personas["researcher"], ethics_approval=second
        )
    assert not storage.exists(old_name)
    assert storage.exists(application.ethics_approval.name)
    storage.delete(application.ethics_approval.name)
