from django.urls import path

import portal.ids  # noqa: F401  (registers the <id:...> path converter)
from access.api import applications, permits, register, results, reviews, tokens

app_name = "access_api"

urlpatterns = [
    path("applications/", applications.ApplicationListApi.as_view(), name="applications"),
    path("applications/<id:pk>/", applications.ApplicationDetailApi.as_view(), name="application"),
    path(
        "applications/<id:pk>/ethics-approval/",
        applications.ApplicationEthicsApi.as_view(),
        name="application_ethics",
    ),
    path(
        "applications/<id:pk>/submit/",
        applications.ApplicationSubmitApi.as_view(),
        name="application_submit",
    ),
    path(
        "applications/<id:pk>/missing/",
        applications.ApplicationMissingApi.as_view(),
        name="application_missing",
    ),
    path(
        "applications/<id:pk>/withdraw/",
        applications.ApplicationWithdrawApi.as_view(),
        name="application_withdraw",
    ),
    path(
        "applications/<id:pk>/team/",
        applications.ApplicationTeamApi.as_view(),
        name="application_team",
    ),
    path(
        "applications/<id:pk>/clarification-answer/",
        applications.ApplicationClarificationAnswerApi.as_view(),
        name="application_clarification_answer",
    ),
    path(
        "applications/<id:pk>/comments/",
        applications.ApplicationCommentsApi.as_view(),
        name="application_comments",
    ),
    path(
        "applications/<id:pk>/extend-deadline/",
        applications.ApplicationExtendDeadlineApi.as_view(),
        name="application_extend_deadline",
    ),
    # The public register: anyone may read it (docs/register.md)
    path("register/", register.RegisterListApi.as_view(), name="register"),
    path("register/<id:pk>/", register.RegisterEntryApi.as_view(), name="register_entry"),
    path("reviews/", reviews.ReviewListApi.as_view(), name="reviews"),
    path("reviews/<id:pk>/", reviews.ReviewDetailApi.as_view(), name="review"),
    path("reviews/<id:pk>/conflict/", reviews.ReviewConflictApi.as_view(), name="review_conflict"),
    path("reviews/<id:pk>/vote/", reviews.ReviewVoteApi.as_view(), name="review_vote"),
    path(
        "reviews/<id:pk>/clarification/",
        reviews.ReviewClarificationApi.as_view(),
        name="review_clarification",
    ),
    path("reviews/<id:pk>/terms/", reviews.ReviewTermsApi.as_view(), name="review_terms"),
    path("reviews/<id:pk>/decide/", reviews.ReviewDecideApi.as_view(), name="review_decide"),
    path("invitations/<str:token>/", applications.InvitationAnswerApi.as_view(), name="invitation"),
    path("permits/", permits.PermitListApi.as_view(), name="permits"),
    path("permits/<id:pk>/", permits.PermitDetailApi.as_view(), name="permit"),
    path("permits/<id:pk>/change/", permits.PermitChangeApi.as_view(), name="permit_change"),
    path("permits/<id:pk>/tokens/", tokens.PermitTokensApi.as_view(), name="permit_tokens"),
    # The holder's results (EHDS Art 61(4)), as on the permit's results page
    path("permits/<id:pk>/results/", results.PermitResultsApi.as_view(), name="permit_results"),
    path(
        "permits/<id:pk>/results/outputs/",
        results.ResultOutputsApi.as_view(),
        name="permit_result_outputs",
    ),
    path(
        "permits/<id:pk>/results/outputs/<id:output_pk>/",
        results.ResultOutputApi.as_view(),
        name="permit_result_output",
    ),
    path("tokens/<id:pk>/", tokens.TokenDetailApi.as_view(), name="token"),
    path("tokens/<id:pk>/revoke/", tokens.TokenRevokeApi.as_view(), name="token_revoke"),
]
