"""The workflow and error layer every app shares.

Workflows are data: a model with a ``status`` declares ``Status`` (TextChoices) and
``ALLOWED_TRANSITIONS``; :class:`TransitionsMixin` turns the table into ``can_transition_to``
(which buttons to show) and ``transition_to`` (the guard the services call under a row lock).

Services refuse with three errors, which the pages show beside the form and the API maps to
HTTP in one place (``portal.api_errors``):

==================== ====== ==========================================================
error                HTTP   meaning
==================== ====== ==========================================================
InvalidTransition    409    the workflow does not allow this now
NotPermitted         403    the person may see the object but not take this action
Incomplete           400    a submission lacks something; ``messages`` lists every item
(ValidationError)    400    input or a rule refused; field → messages
==================== ====== ==========================================================
"""

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class InvalidTransition(Exception):
    """A status change the workflow table does not allow."""


class NotPermitted(PermissionDenied):
    """The person may see the object but not take this action (403, not 404)."""


class Incomplete(ValidationError):
    """A submission refused; ``messages`` lists every missing or invalid item."""


class TransitionsMixin(models.Model):
    """``can_transition_to`` decides which buttons to show; ``transition_to`` is the guard."""

    ALLOWED_TRANSITIONS: ClassVar[Mapping[str, Collection[str]]] = {}
    # Each model using the mixin declares these (the status field and its choices).
    Status: ClassVar[type[models.TextChoices]]
    status: str

    if TYPE_CHECKING:
        # Django adds it to each model for its status field's choices.
        def get_status_display(self) -> str: ...

    class Meta:
        abstract = True

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    def transition_to(self, status: str) -> str:
        """Move to ``status`` and return the old one; raise :class:`InvalidTransition` when
        the table does not allow it."""
        if not self.can_transition_to(status):
            raise InvalidTransition(
                _("This %(model)s is %(old)s: it cannot become %(new)s.")
                % {
                    "model": self._meta.verbose_name,
                    "old": self.get_status_display().lower(),
                    "new": str(dict(self.Status.choices).get(status, status)).lower(),
                }
            )
        old = self.status
        self.status = status
        return old
