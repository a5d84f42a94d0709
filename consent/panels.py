"""Panels that apps above consent add to the citizen's dashboard (such as which permits used
data that included theirs). Consent imports no app above it: an app registers a panel when it
is ready, and the dashboard shows every registered panel, in the order they were registered,
in its "Who used my data" place."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

PanelContext = Callable[[HttpRequest], dict[str, Any]]


@dataclass(frozen=True)
class CitizenPanel:
    """A template included in the citizen's dashboard, given ``panel`` (what ``context``
    builds from the request) besides the dashboard's own context."""

    template: str
    context: PanelContext | None = None


_PANELS: list[CitizenPanel] = []


def register_citizen_panel(panel: CitizenPanel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def citizen_panels(request: HttpRequest) -> list[dict[str, Any]]:
    """The registered panels with their context, for the dashboard template."""
    return [
        {"template": p.template, "context": p.context(request) if p.context else {}}
        for p in _PANELS
    ]
