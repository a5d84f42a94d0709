import re

import pytest
from django.core import mail
from django.urls import reverse

from portal.models import AuditEvent
from tests.factories import PASSWORD, UserFactory


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("citizen", "/dashboard/citizen/"),
        ("researcher", "/dashboard/researcher/"),
        ("committee_member", "/dashboard/committee/"),
        ("node_operator", "/dashboard/node/"),
        ("hdab_admin", "/dashboard/hdab/"),
    ],
)
def test_it_lands_each_role_on_its_dashboard(client, personas, persona, landing):
    response = _login(client, persona, PASSWORD)
    assert response.status_code == 302
    response = client.get(response.url)
    assert response.status_code == 302 and response.url == landing
    assert client.get(landing).status_code == 200


def test_it_lets_a_person_with_several_roles_choose(client, db):
    UserFactory(username="both", roles=["citizen", "researcher"])
    _login(client, "both", PASSWORD)
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert b"/dashboard/citizen/" in page.content and b"/dashboard/researcher/" in page.content


def test_it_shows_navigation_for_the_roles_held(client, personas):
    client.force_login(personas["hdab_admin"])
    page = client.get(reverse("home")).content.decode()
    assert "Audit log" in page and "/admin/" in page
    client.force_login(personas["researcher"])
    page = client.get(reverse("home")).content.decode()
    assert "Audit log" not in page and "/dashboard/researcher/" in page


def test_it_records_logins_and_failures_in_the_audit_chain(client, personas):
    _login(client, "researcher", "wrong")
    _login(client, "researcher", PASSWORD)
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert "portal.session.login_failed" in actions
    assert actions[-1] == "portal.session.login"


def test_it_locks_an_account_name_after_repeated_failures(client, personas, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert "Please enter a correct" in _login(client, "researcher", "wrong").content.decode()
    # Even the right password is refused while locked, with a clear message.
    response = _login(client, "researcher", PASSWORD)
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="portal.session.locked_out").exists()


def test_it_locks_an_address_after_many_failures_across_names(client, personas, settings):
    settings.LOGIN_FAILURE_IP_LIMIT = 4
    for name in ["a", "b", "c", "d"]:
        _login(client, name, "wrong")
    response = _login(client, "citizen", PASSWORD)
    assert "Too many failed logins" in response.content.decode()


def test_it_resets_a_password_by_email(client, personas):
    personas["citizen"].email = "chiara@example.org"
    personas["citizen"].save()
    response = client.post(reverse("password_reset"), {"email": "chiara@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session-held one
    response = client.post(
        form_url,
        {"new_password1": "a-fresh-long-password", "new_password2": "a-fresh-long-password"},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        action="portal.user.password_reset", object_id=personas["citizen"].pk
    ).exists()
    assert _login(client, "citizen", "a-fresh-long-password").status_code == 302


def test_it_does_not_reveal_whether_an_email_has_an_account(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302 and len(mail.outbox) == 0


def test_it_logs_out_only_by_post(client, personas):
    client.force_login(personas["citizen"])
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_it_shows_the_access_body_open_applications_by_deadline(access, client_for):
    from datetime import timedelta

    from django.utils import timezone

    from access.models import Application

    Application.objects.filter(pk=access.submitted.pk).update(
        decision_due=timezone.now() - timedelta(days=2)
    )
    page = client_for("hdab_admin").get("/dashboard/hdab/").content.decode()
    assert "Submitted study" in page and "Overdue" in page
    assert "Draft study" not in page  # drafts are the applicant's own business
