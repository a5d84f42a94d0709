"""Data access committees: who governs which datasets, and how they decide."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Dataset, Node


class Committee(models.Model):
    """A data access committee governing some datasets, or every dataset of some nodes.

    Members and the chair are per-object permissions (django-guardian): ``review_committee``
    for every member, ``chair_committee`` for the chair(s). ``access.permissions`` wraps them.
    """

    class DecisionRule(models.TextChoices):
        CHAIR = "chair", _("The chair decides")
        MAJORITY = "majority", _("Majority of the members who may vote")
        UNANIMOUS = "unanimous", _("All members who may vote agree")

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    email = models.EmailField(_("contact email"), blank=True)
    decision_rule = models.CharField(
        _("decision rule"), max_length=16, choices=DecisionRule.choices, default=DecisionRule.CHAIR
    )
    datasets = models.ManyToManyField(Dataset, related_name="committees", blank=True)
    nodes = models.ManyToManyField(Node, related_name="committees", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("review_committee", "Is a member of the committee"),
            ("chair_committee", "Chairs the committee"),
        ]

    def __str__(self) -> str:
        return self.name
