from django.urls import path

import portal.ids  # noqa: F401  (registers the <id:...> path converter)
from access import api

app_name = "access_api"

urlpatterns = [
    path("applications/", api.ApplicationListApi.as_view(), name="applications"),
    path("applications/<id:pk>/", api.ApplicationDetailApi.as_view(), name="application"),
    path(
        "applications/<id:pk>/ethics-approval/",
        api.ApplicationEthicsApi.as_view(),
        name="application_ethics",
    ),
    path(
        "applications/<id:pk>/submit/",
        api.ApplicationSubmitApi.as_view(),
        name="application_submit",
    ),
    path(
        "applications/<id:pk>/missing/",
        api.ApplicationMissingApi.as_view(),
        name="application_missing",
    ),
    path(
        "applications/<id:pk>/withdraw/",
        api.ApplicationWithdrawApi.as_view(),
        name="application_withdraw",
    ),
    path("applications/<id:pk>/team/", api.ApplicationTeamApi.as_view(), name="application_team"),
    path(
        "applications/<id:pk>/clarification-answer/",
        api.ApplicationClarificationAnswerApi.as_view(),
        name="application_clarification_answer",
    ),
    path(
        "applications/<id:pk>/comments/",
        api.ApplicationCommentsApi.as_view(),
        name="application_comments",
    ),
    path(
        "applications/<id:pk>/extend-deadline/",
        api.ApplicationExtendDeadlineApi.as_view(),
        name="application_extend_deadline",
    ),
    path("reviews/", api.ReviewListApi.as_view(), name="reviews"),
    path("reviews/<id:pk>/", api.ReviewDetailApi.as_view(), name="review"),
    path("reviews/<id:pk>/conflict/", api.ReviewConflictApi.as_view(), name="review_conflict"),
    path("reviews/<id:pk>/vote/", api.ReviewVoteApi.as_view(), name="review_vote"),
    path(
        "reviews/<id:pk>/clarification/",
        api.ReviewClarificationApi.as_view(),
        name="review_clarification",
    ),
    path("reviews/<id:pk>/decide/", api.ReviewDecideApi.as_view(), name="review_decide"),
    path("invitations/<str:token>/", api.InvitationAnswerApi.as_view(), name="invitation"),
    path("permits/", api.PermitListApi.as_view(), name="permits"),
    path("permits/<id:pk>/", api.PermitDetailApi.as_view(), name="permit"),
    path("permits/<id:pk>/change/", api.PermitChangeApi.as_view(), name="permit_change"),
]
