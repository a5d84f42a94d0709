"""Committee reviews through the API: the queue, a review with its tally and votes, conflicts,
votes, clarification requests and the chair's decision. The applicant and their team never reach
a review of their own application (``access.selectors.access_review``).
"""

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from access import selectors, services
from access.api.common import (
    AccessApi,
    ApplicationBriefOutput,
    ApplicationDetailOutput,
    ClarificationOutput,
    CommitteeRefOutput,
    ListApi,
    PersonOutput,
    ReviewItemOutput,
    _items,
    _valid,
    _with_details,
    answers,
)
from access.limits import LONG_TEXT, NOTE
from access.models import (
    Application,
    ConflictOfInterest,
    RefusalGround,
    Review,
    Vote,
)


class ReviewSummaryOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()
    application = ApplicationBriefOutput()
    overdue = serializers.SerializerMethodField()
    due_soon = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "status", "committee", "application", "overdue", "due_soon",
                  "decided_at"]  # fmt: skip

    def get_overdue(self, obj) -> bool:
        return selectors.is_overdue(obj.application)

    def get_due_soon(self, obj) -> bool:
        return selectors.due_soon(obj.application)


class TallyOutput(serializers.Serializer):
    eligible = serializers.IntegerField(help_text="Members who may vote (not conflicted).")
    cast = serializers.IntegerField()
    approve = serializers.IntegerField()
    reject = serializers.IntegerField()
    abstain = serializers.IntegerField()


class VoteOutput(serializers.ModelSerializer):
    member = PersonOutput()

    class Meta:
        model = Vote
        fields = ["member", "choice", "reason", "cast_at"]


class ConflictOutput(serializers.ModelSerializer):
    member = PersonOutput()

    class Meta:
        model = ConflictOfInterest
        fields = ["member", "note", "declared_at"]


class ConsentCausesOutput(serializers.Serializer):
    withdrawn = serializers.IntegerField(help_text="Withdrew their consent (every use).")
    opted_out = serializers.IntegerField(
        help_text="Opted out of secondary use (EHDS Art 71): permits approved after it."
    )
    outside_donation = serializers.IntegerField(
        help_text="Donated, but not for this use, node or time."
    )
    no_consent = serializers.IntegerField(
        help_text="No consent in force, where the portal's default is deny (opt-in)."
    )


class ConsentCountOutput(serializers.Serializer):
    dataset = serializers.CharField(help_text="The dataset's identifier.")
    title = serializers.CharField()
    subjects = serializers.IntegerField(help_text="Subjects indexed in the dataset.")
    allowed = serializers.IntegerField(
        help_text="Subjects whose consents allow the application's use, if approved now."
    )
    not_allowed = ConsentCausesOutput()


class ReviewDetailOutput(serializers.ModelSerializer):
    committee = CommitteeRefOutput()
    application = ApplicationDetailOutput()
    items = ReviewItemOutput(many=True)
    decided_by = PersonOutput(allow_null=True)
    tally = serializers.SerializerMethodField()
    votes = VoteOutput(many=True)
    conflicts = ConflictOutput(many=True)
    decisive_votes = serializers.SerializerMethodField(
        help_text="Your votes that would on their own become the committee's final decision: "
        "choice → the outcome it settles (empty when no single vote of yours decides)."
    )
    consent = serializers.SerializerMethodField(
        help_text="For each dataset under review: how many of its subjects the consents allow "
        "for the application's use (its EHDS purpose and DUO codes), and why the others not."
    )

    class Meta:
        model = Review
        fields = [
            "id", "status", "committee", "application", "items", "tally", "votes", "conflicts",
            "decisive_votes", "consent", "reason", "conditions", "permit_ends_on", "decided_by",
            "decided_at",
        ]  # fmt: skip

    @extend_schema_field(ConsentCountOutput(many=True))
    def get_consent(self, obj) -> list:
        counts = selectors.consent_counts(obj.application, [obj]).get(obj.pk, [])
        return [count.as_json() for count in counts]

    def _tally(self, obj):
        if getattr(obj, "_tally", None) is None:
            obj._tally = services.tally(obj)
        return obj._tally

    @extend_schema_field(TallyOutput)
    def get_tally(self, obj):
        return TallyOutput(self._tally(obj)).data

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "string", "enum": ["approved", "rejected"]},
        }
    )
    def get_decisive_votes(self, obj) -> dict:
        viewer = self.context.get("viewer")
        if viewer is None or obj.application.status == Application.Status.CLARIFICATION:
            return {}
        return dict(services.decisive_votes(obj, viewer, self._tally(obj)))


def _review_output(user, pk) -> dict:
    review = selectors.access_review(user, pk)
    prefetch_related_objects(
        [review],
        "votes__member",
        "conflicts__member",
        _items(),
    )
    _with_details(review.application)
    return ReviewDetailOutput(review, context={"viewer": user}).data


# --- Reviews --------------------------------------------------------------------------------


class ReviewListApi(ListApi):
    """The caller's committee queue: reviews of submitted applications, pending first."""

    @extend_schema(responses={200: ReviewSummaryOutput(many=True)})
    def get(self, request):
        return self.paginated(request, selectors.committee_queue(request.user), ReviewSummaryOutput)


class ReviewDetailApi(AccessApi):
    """A review with the application, the pre-screening per dataset, the votes and the tally."""

    @extend_schema(responses=answers(ReviewDetailOutput, invalid=None, conflict=False))
    def get(self, request, pk):
        return Response(_review_output(request.user, pk))


class ReviewConflictApi(AccessApi):
    """Declare a conflict of interest; a vote already cast is withdrawn."""

    class ConflictInput(serializers.Serializer):
        note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE)

    @extend_schema(request=ConflictInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.ConflictInput, request)
        services.conflict_declare(review=review, actor=request.user, note=data["note"])
        return Response(_review_output(request.user, pk))


class ReviewVoteApi(AccessApi):
    """Vote (again); under the majority or unanimity rule the settling vote decides."""

    class VoteInput(serializers.Serializer):
        choice = serializers.ChoiceField(choices=Vote.Choice.choices)
        reason = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=LONG_TEXT,
            help_text="Required to reject.",
        )

    @extend_schema(request=VoteInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.VoteInput, request)
        services.vote_cast(
            review=review, actor=request.user, choice=data["choice"], reason=data["reason"]
        )
        return Response(_review_output(request.user, pk))


class ReviewClarificationApi(AccessApi):
    """Ask the applicant a question; ``incomplete`` stops the clock (four weeks to complete)."""

    class ClarificationRequestInput(serializers.Serializer):
        question = serializers.CharField(max_length=LONG_TEXT)
        incomplete = serializers.BooleanField(default=False)

    @extend_schema(
        request=ClarificationRequestInput, responses=answers(ClarificationOutput, code=201)
    )
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk)
        data = _valid(self.ClarificationRequestInput, request)
        clarification = services.clarification_request(
            review=review,
            actor=request.user,
            question=data["question"],
            incomplete=data["incomplete"],
        )
        return Response(ClarificationOutput(clarification).data, status=status.HTTP_201_CREATED)


class ReviewTermsApi(AccessApi):
    """The chair records the permit's conditions and end date before the votes settle: the
    permit issued when they settle an approval carries them."""

    class TermsInput(serializers.Serializer):
        conditions = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=LONG_TEXT
        )
        ends_on = serializers.DateField(required=False, allow_null=True, default=None)

    @extend_schema(request=TermsInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk, as_chair=True)
        data = _valid(self.TermsInput, request)
        services.review_terms_set(review=review, actor=request.user, **data)
        return Response(_review_output(request.user, pk))


class ReviewDecideApi(AccessApi):
    """The chair decides for the committee. Rejection needs reasons; ``ends_on`` sets the
    permit's end (at most ten years)."""

    class DecisionInput(serializers.Serializer):
        approve = serializers.BooleanField()
        reason = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=LONG_TEXT,
            help_text="Required to reject.",
        )
        conditions = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=LONG_TEXT
        )
        ends_on = serializers.DateField(required=False, allow_null=True, default=None)
        ground = serializers.ChoiceField(
            choices=RefusalGround.choices,
            required=False,
            allow_blank=True,
            default="",
            help_text="When rejecting: the EHDS Art 68 criterion the refusal rests on.",
        )

    @extend_schema(request=DecisionInput, responses=answers(ReviewDetailOutput))
    def post(self, request, pk):
        review = selectors.access_review(request.user, pk, as_chair=True)
        data = _valid(self.DecisionInput, request)
        services.review_decide(review=review, actor=request.user, **data)
        return Response(_review_output(request.user, pk))
