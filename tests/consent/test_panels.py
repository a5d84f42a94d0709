"""Apps above consent add panels to the citizen's page (consent.panels): the page shows each
registered panel with what its context builds from the request."""

from pathlib import Path

from consent import panels

TEMPLATES = Path(__file__).parent / "templates"


def test_a_registered_panel_is_shown_on_the_citizens_page(client_for, settings, monkeypatch):
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine["DIRS"], TEMPLATES]}]
    monkeypatch.setattr(panels, "_PANELS", [])
    panel = panels.CitizenPanel(
        "consent_tests/panel.html",
        lambda request: {"message": f"2 permits used data of {request.user.username}"},
    )
    panels.register_citizen_panel(panel)
    panels.register_citizen_panel(panel)  # registered twice, shown once
    page = client_for("citizen").get("/dashboard/citizen/").content.decode()
    assert page.count("2 permits used data of citizen (citizen)") == 1
