"""Committee reviews of applications: conflicts of interest, votes, comments and clarifications."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from access.models.applications import Application
from access.models.committees import Committee
from portal.workflow import TransitionsMixin


class RefusalGround(models.TextChoices):
    """The criterion of EHDS Art 68(1)–(2) a refusal rests on, as the chair names it (kept in
    the audit event of the decision and counted in the access body's figures, not stored on
    the review)."""

    PURPOSE = "purpose", _("(a) The purpose is not one of Article 53(1)")
    PROPORTIONATE = "proportionate", _("(b) The data asked for are not necessary or proportionate")
    LEGAL_BASIS = "legal_basis", _("(c) No lawful basis, or pseudonymised data not justified")
    QUALIFIED = "qualified", _("(d) The applicant is not qualified for the purpose")
    SAFEGUARDS = "safeguards", _("(e) Safeguards against misuse are not sufficient")
    ETHICS = "ethics", _("(f) The ethics assessment does not comply with national law")
    OPT_OUT_EXCEPTION = "opt_out_exception", _("(g) The Article 71(4) exception is not justified")
    OTHER_REQUIREMENT = "other_requirement", _("(h) Another requirement of the Chapter is not met")
    RISKS = "risks", _("Art 68(2): risks to security or to confidential data")


class Review(TransitionsMixin):
    """One committee's review of the datasets it governs in one application."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CLOSED = "closed", _("Closed (withdrawn)")

    ALLOWED_TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.REJECTED, Status.CLOSED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
        Status.CLOSED: set(),
    }

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    conditions = models.TextField(blank=True)
    # The end of the permit the chair set when approving (else from the requested period).
    permit_ends_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "committee"], name="unique_review"),
        ]

    def __str__(self) -> str:
        return f"{self.committee} on {self.application}"


class ConflictOfInterest(models.Model):
    """A member's declared conflict with an application; a conflicted member cannot vote."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="conflicts")
    # PROTECT: deleting a person must not silently change who may vote on open reviews.
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "member"], name="unique_conflict"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} conflicted on {self.review_id}"


class Vote(models.Model):
    """A member's vote in a review; one per member, changeable until the review is decided."""

    class Choice(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")
        ABSTAIN = "abstain", _("Abstain")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="votes")
    # PROTECT: a vote is part of a committee's decision; deleting its voter must not erase it.
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    reason = models.TextField(blank=True)
    cast_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "member"], name="unique_vote"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.choice}"


class Comment(models.Model):
    """A remark on an application: internal to the committee, or visible to the applicant."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="comments")
    committee = models.ForeignKey(
        Committee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    visible_to_applicant = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.application_id}"


class Clarification(models.Model):
    """A committee's question to the applicant and the answer given when resubmitting."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="clarifications"
    )
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    question = models.TextField()
    incomplete = models.BooleanField(
        default=False, help_text=_("The application is incomplete (Art 68(4)): four weeks.")
    )
    answer = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at"]

    def __str__(self) -> str:
        return f"Clarification {self.pk} on {self.application_id}"
