"""A node operator publishes, retires or returns a dataset to draft with buttons named for
what they do, after a confirmation saying what will happen; the message afterwards says what
changed."""

import pytest
from django.urls import reverse

from catalogue.models import Dataset
from portal.models import AuditEvent


def _text(response) -> str:
    return response.content.decode()


def _buttons(html: str) -> list[str]:
    manage = html[html.index('id="manage-heading"') :]
    return [part.split("</button>")[0] for part in manage.split('class="secondary">')[1:]]


def test_it_names_the_status_buttons_for_what_they_do(catalogue, client_for):
    client = client_for("node_operator")
    draft = _text(client.get(reverse("catalogue:dataset_detail", args=[catalogue.draft.pk])))
    assert _buttons(draft) == ["Publish", "Retire"]
    published = reverse("catalogue:dataset_detail", args=[catalogue.published.pk])
    assert _buttons(_text(client.get(published))) == ["Retire", "Return to draft"]
    assert "Make " not in draft


@pytest.mark.parametrize(
    ("status", "question", "consequence", "changed"),
    [
        ("published", "Publish “Oslo draft”?", "that other catalogues harvest",
         "“Oslo draft” was published: it is in the public catalogue and the HealthDCAT-AP "
         "export now."),
        ("retired", "Retire “Oslo draft”?", "leaves the public catalogue",
         "“Oslo draft” was retired: it is no longer in the public catalogue or the export."),
    ],
)  # fmt: skip
def test_it_asks_before_changing_a_datasets_status(
    catalogue, client_for, status, question, consequence, changed
):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_status", args=[catalogue.draft.pk])
    before = AuditEvent.objects.count()
    response = client.post(url, {"status": status})
    html = _text(response)
    assert response.status_code == 200
    assert question in html and consequence in html and "What will happen" in html
    assert f'<input type="hidden" name="status" value="{status}">' in html
    assert 'name="confirmed" value="yes"' in html
    assert Dataset.objects.get(pk=catalogue.draft.pk).status == "draft"
    assert AuditEvent.objects.count() == before

    response = client.post(url, {"status": status, "confirmed": "yes"})
    assert response.status_code == 302
    assert Dataset.objects.get(pk=catalogue.draft.pk).status == status
    assert changed in _text(client.get(response.url))


def test_it_refuses_a_status_the_dataset_cannot_take_without_asking(catalogue, client_for):
    client = client_for("node_operator")
    url = reverse("catalogue:dataset_status", args=[catalogue.draft.pk])
    response = client.post(url, {"status": "draft"})  # already a draft
    assert response.status_code == 302
    assert "cannot become draft" in _text(client.get(response.url))
