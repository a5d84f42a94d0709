from django.core.management import call_command
from django.http import HttpRequest

from catalogue.models import Dataset
from portal.audit import verify_chain
from portal.management.commands.demo_data import DEMO_PEOPLE, demo_password
from portal.models import User


def test_it_loads_one_person_per_role_whose_printed_login_works(db, client, capsys):
    call_command("demo_data")
    out = capsys.readouterr().out
    for username, roles, *_ in DEMO_PEOPLE:
        assert f"username {username}" in out and demo_password(username) in out
        # Logins go through the throttle, which needs the request (as every login page gives).
        request = HttpRequest()
        assert client.login(request=request, username=username, password=demo_password(username))
        assert User.objects.get(username=username).roles == frozenset(roles)
    assert Dataset.objects.filter(status="published").count() == 4
    from access.selectors import governing_committees

    for dataset in Dataset.objects.all():  # every demo dataset can be applied for
        assert governing_committees(dataset).count() == 1
    assert verify_chain().ok


def test_it_can_run_twice_without_duplicates(db):
    call_command("demo_data")
    call_command("demo_data")
    assert User.objects.count() == len(DEMO_PEOPLE)
    assert Dataset.objects.count() == 4


def test_it_refuses_to_run_in_production(db, settings):
    import pytest
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("demo_data")
    assert not User.objects.exists()


def test_a_researcher_can_count_a_cohort_in_the_demo_catalogue(db, client):
    """The demo datasets carry a study and series index, so the feasibility page has
    something to count, and their figures are the index's."""
    from catalogue.models import Series, Study

    call_command("demo_data")
    client.force_login(User.objects.get(username="researcher"))

    answer = client.get("/api/catalogue/feasibility/", {"modality": "MR"}).json()
    titles = {row["title"] for node in answer["nodes"] for row in node["datasets"]}
    assert titles == {
        "Breast MRI screening cohort",
        "Prostate mpMRI with biopsy outcome",
        "Rectal cancer MRI before and after neoadjuvant therapy",
    }
    assert not answer["total"]["subjects"]["suppressed"]
    chest = client.get("/api/catalogue/feasibility/", {"body_part": "CHEST", "modality": "CT"})
    assert chest.json()["datasets_matched"] == 1
    for dataset in Dataset.objects.all():
        studies = Study.objects.filter(dataset=dataset)
        assert dataset.number_of_studies == studies.count() > 0
        assert dataset.number_of_subjects == studies.values("subject").distinct().count()
        assert dataset.number_of_instances == sum(
            Series.objects.filter(study__dataset=dataset).values_list("instance_count", flat=True)
        )
        assert dataset.number_of_instances > 0
    # The demo citizen's pseudonym is a subject of the breast cohort.
    assert Study.objects.filter(subject="OSLO-BR-0042", dataset__node__slug="oslo").exists()


def test_the_demo_researcher_holds_a_permit_whose_decision_is_in_the_register(db, client, capsys):
    from access.demo import DEMO_APPLICATION, DEMO_FIELDS
    from access.models import Permit

    call_command("demo_data")
    assert "Demo permit" in capsys.readouterr().out
    permit = Permit.objects.get(application__title=DEMO_APPLICATION)
    assert permit.holder.username == "researcher" and permit.status == Permit.Status.ACTIVE
    register = client.get("/access/register/").content.decode()
    assert DEMO_FIELDS["lay_title"] in register
    client.force_login(permit.holder)  # and the permit gives tokens for the Oslo node
    path = f"/api/access/permits/{permit.pk}/tokens/"
    issued = client.post(path, {"node": "oslo"}, content_type="application/json")
    assert issued.status_code == 201 and issued.json()["datasets"]
    call_command("demo_data")  # a second run adds no second application
    assert Permit.objects.filter(application__title=DEMO_APPLICATION).count() == 1
    assert verify_chain().ok
