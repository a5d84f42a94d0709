"""Each dataset is governed by exactly one committee: a committee claiming a dataset or a node
another committee governs is refused when it is saved, naming that committee, instead of
leaving researchers with applications nobody can submit."""

from django.urls import reverse

from access import services
from access.models import Committee


def test_it_refuses_a_new_committee_claiming_a_governed_node_on_the_page(
    access, catalogue, client_for
):
    page = client_for("hdab_admin").post(
        reverse("access:committee_create"),
        {"name": "Second Oslo DAC", "decision_rule": "chair", "nodes": [catalogue.own_node.pk]},
    )

    assert page.status_code == 200
    assert "Oslo imaging node is already governed by Oslo DAC." in page.content.decode()
    assert not Committee.objects.filter(name="Second Oslo DAC").exists()


def test_it_refuses_a_committee_naming_a_dataset_another_names(access, catalogue, client_for):
    page = client_for("hdab_admin").post(
        reverse("access:committee_detail", args=[access.oslo.pk]),
        {
            "name": "Oslo DAC",
            "decision_rule": "chair",
            "nodes": [catalogue.own_node.pk],
            "datasets": [catalogue.other_published.pk],
        },
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "“Lung CT collection” is already governed by Valencia DAC." in html
    assert not access.oslo.datasets.exists()
    # Researchers can still submit applications for that dataset.
    services.application_submit(application=access.draft, actor=access.draft.applicant)


def test_it_lets_a_committee_name_a_dataset_of_a_node_another_governs(access, catalogue):
    services.committee_update(
        committee=access.valencia,
        actor=None,
        datasets=[catalogue.other_published, catalogue.published],
    )

    submitted = services.application_submit(application=access.draft, actor=access.draft.applicant)

    committees = set(submitted.reviews.values_list("committee__name", flat=True))
    assert committees == {"Valencia DAC"}
