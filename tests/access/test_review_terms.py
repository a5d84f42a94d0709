"""Under the majority or unanimity rule the vote that settles an approval issues the permit at
once; the chair records its conditions and end date beforehand, and the permit carries them."""

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from access import services
from access.models import Permit, Review
from portal.models import AuditEvent
from tests.conftest import complete_application_fields


def test_the_permit_a_vote_issues_carries_the_terms_the_chair_recorded(
    access, personas, catalogue, client_for
):
    services.committee_add_member(
        committee=access.valencia, user=personas["committee_member"], actor=None
    )
    researcher = personas["researcher"]
    application = services.application_create(
        applicant=researcher, title="Lung study", datasets=[catalogue.other_published]
    )
    services.application_update(
        application=application, actor=researcher, **complete_application_fields()
    )
    services.application_submit(application=application, actor=researcher)
    review = Review.objects.get(application=application)
    ends_on = timezone.localdate() + timedelta(days=400)

    answer = client_for("committee_chair").post(
        reverse("access_api:review_terms", kwargs={"pk": review.pk}),
        data=json.dumps({"conditions": "IRB approval before access.", "ends_on": str(ends_on)}),
        content_type="application/json",
    )
    refused = client_for("committee_member").post(
        reverse("access_api:review_terms", kwargs={"pk": review.pk}),
        data=json.dumps({"conditions": "None"}),
        content_type="application/json",
    )
    for member in ("committee_chair", "committee_member"):
        services.vote_cast(review=review, actor=personas[member], choice="approve")

    assert (
        answer.status_code == 200 and answer.json()["conditions"] == "IRB approval before access."
    )
    assert refused.status_code == 403
    permit = Permit.objects.get(review=review)
    assert permit.conditions == "IRB approval before access."
    assert permit.ends_on == ends_on
    assert AuditEvent.objects.filter(action="access.review.terms_set").count() == 1
