"""The register page shows each permit's form of the data, as the JSON does."""

from django.test import Client
from django.urls import reverse

from access import services


def test_the_register_page_shows_the_form_of_the_data_of_each_permit(access, personas):
    application = access.submitted
    for review in application.reviews.all():
        services.review_decide(review=review, actor=personas["committee_chair"], approve=True)
    services.decision_publish(
        application=application, actor=personas["hdab_admin"], justification="Lawful purpose."
    )

    page = Client().get(reverse("access:register_entry", args=[application.pk])).content.decode()

    section = page[page.index("Data permit") :]
    assert section.count("Form of the data") == 2  # one per permit
    assert "Pseudonymised" in section
