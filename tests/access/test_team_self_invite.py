"""An applicant cannot invite themselves to their own team."""

import json

from django.urls import reverse

from portal.models import AuditEvent


def test_it_refuses_inviting_the_applicant_on_the_email_field(access, personas, client_for):
    url = reverse("access_api:application_team", kwargs={"pk": access.draft.pk})
    own = personas["researcher"].email.upper()

    answer = client_for("researcher").post(
        url, data=json.dumps({"email": own, "role": "PI"}), content_type="application/json"
    )

    assert answer.status_code == 400
    assert "your own address" in answer.json()["errors"]["email"][0]
    assert not access.draft.team.exists()
    assert not AuditEvent.objects.filter(action="access.team.invited").exists()
