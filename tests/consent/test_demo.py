"""``manage.py demo_data`` gives the demo citizen linked images and a donation to look at."""

from django.core.management import call_command
from django.test import Client

from consent.fhir import validate
from consent.models import ConsentVersion, DonorLink
from portal.models import User


def test_the_demo_citizen_sees_their_linked_images_and_donation(db):
    call_command("demo_data")
    call_command("demo_data")  # a second run adds nothing
    citizen = User.objects.get(username="citizen")
    assert DonorLink.objects.filter(citizen=citizen).count() == 1
    version = ConsentVersion.objects.get(record__owner=citizen)
    assert validate(version.resource)[1] == []
    client = Client()
    client.force_login(citizen)
    page = client.get("/dashboard/citizen/").content.decode()
    assert "OSLO-BR-0042" in page
    assert "You donate your data as described below." in page
    assert "Health or medical research only" in page
