from django.urls import reverse

from portal.audit import audit_record


def test_it_lets_the_access_body_filter_the_audit_log(client_for, personas):
    audit_record(
        "catalogue.dataset.published",
        actor=personas["node_operator"],
        object_type="catalogue.dataset",
        object_id=7,
    )
    audit_record(
        "access.permit.revoked",
        actor=personas["hdab_admin"],
        object_type="access.permit",
        object_id=3,
    )
    client = client_for("hdab_admin")
    page = client.get(reverse("audit_log"), {"action": "access."}).content.decode()
    assert "access.permit.revoked" in page and "catalogue.dataset.published" not in page
    page = client.get(
        reverse("audit_log"), {"actor": personas["node_operator"].pseudonym}
    ).content.decode()
    assert "catalogue.dataset.published" in page and "access.permit.revoked" not in page
    page = client.get(
        reverse("audit_log"), {"object_type": "access.permit", "object_id": "3"}
    ).content.decode()
    assert "access.permit.revoked" in page


def test_it_pages_the_audit_log_and_keeps_filters(
    client_for, personas, django_assert_max_num_queries
):
    for n in range(60):
        audit_record("test.bulk", details={"n": n})
    client = client_for("hdab_admin")
    with django_assert_max_num_queries(8):
        first = client.get(reverse("audit_log"), {"action": "test."})
    assert len(first.context["page"].object_list) == 50
    assert "action=test." in first.content.decode()
    second = client.get(reverse("audit_log"), {"action": "test.", "page": 2})
    assert len(second.context["page"].object_list) == 10


def test_it_shows_pseudonyms_not_names_in_the_audit_log(client_for, personas):
    audit_record("test.named", actor=personas["researcher"])
    page = client_for("hdab_admin").get(reverse("audit_log")).content.decode()
    assert personas["researcher"].pseudonym in page


def test_it_speaks_english_by_default_through_the_translation_machinery(client):
    response = client.get("/")
    assert response.headers["Content-Language"] == "en"
    assert '<html lang="en">' in response.content.decode()
