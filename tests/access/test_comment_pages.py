"""The comments of an application come in pages, like every list of the access API."""

from django.urls import reverse

from access import services


def test_it_pages_the_comments(access, personas, client_for):
    for n in range(30):
        services.comment_add(
            application=access.submitted,
            actor=personas["researcher"],
            body=f"Note {n}",
            visible_to_applicant=True,
        )
    url = reverse("access_api:application_comments", kwargs={"pk": access.submitted.pk})
    client = client_for("committee_member")

    first = client.get(url).json()
    second = client.get(first["next"]).json()

    assert first["count"] == 30
    assert [c["body"] for c in first["results"]] == [f"Note {n}" for n in range(25)]
    assert [c["body"] for c in second["results"]] == [f"Note {n}" for n in range(25, 30)]
    assert client.get(url, {"page_size": 100}).json()["next"] is None
    assert client.get(url, {"page": 3}).status_code == 404
