"""The consent exclusion list of each node, kept materialised so that a change of one consent
or one permit changes only its own entries, and nodes can fetch just what changed
(``access.node.exclusions`` is the wire format; ``access.services.exclusions`` keeps it)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Node


class ExclusionListState(models.Model):
    """A node's exclusion list as a whole: its ``version``, raised by one in every transaction
    that changes an entry, and ``oldest_delta``, the oldest version a delta can still start from
    (older removals have been forgotten: a node holding an older version gets the whole
    list)."""

    node = models.OneToOneField(Node, on_delete=models.CASCADE, related_name="exclusion_list")
    version = models.PositiveBigIntegerField(default=0)
    oldest_delta = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"exclusion list of {self.node_id}, version {self.version}"


class ExclusionEntry(models.Model):
    """One entry of a node's exclusion list, from the version that added it (``added_in``) to
    the version that removed it (``removed_in``; null while it stands). Kinds:

    - ``permit``: the list knows this permit (in force, granting a dataset at the node);
    - ``excluded``: the subject's consent does not allow this permit's use of this dataset;
    - ``subject``: the subject's consent denies every use at the node from ``since``, under
      every permit (a withdrawal) or, when ``earlier_permits`` is false, under permits approved
      from then on (an EHDS Art 71 opt-out).
    """

    class Kind(models.TextChoices):
        PERMIT = "permit", _("Permit known")
        EXCLUDED = "excluded", _("Subject excluded under a permit")
        SUBJECT = "subject", _("Subject excluded from every use")

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    permit = models.CharField(max_length=32, blank=True)  # the permit's number
    dataset = models.CharField(max_length=255, blank=True)  # the dataset's identifier
    subject = models.CharField(max_length=64, blank=True)
    since = models.BigIntegerField(default=0)  # seconds since the epoch
    earlier_permits = models.BooleanField(default=True)
    added_in = models.PositiveBigIntegerField()
    removed_in = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "kind", "permit", "dataset", "subject"],
                condition=models.Q(removed_in__isnull=True),
                name="one_standing_exclusion_entry",
            ),
        ]
        indexes = [
            models.Index(fields=["node", "added_in"], name="exclusion_added_idx"),
            models.Index(fields=["node", "removed_in"], name="exclusion_removed_idx"),
            models.Index(fields=["node", "subject"], name="exclusion_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.permit} {self.dataset} {self.subject}".strip()
