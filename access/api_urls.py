from django.urls import path

from access import api

app_name = "access_api"

urlpatterns = [
    path("applications/", api.ApplicationListApi.as_view(), name="applications"),
    path("applications/<int:pk>/", api.ApplicationDetailApi.as_view(), name="application"),
    path(
        "applications/<int:pk>/ethics-approval/",
        api.ApplicationEthicsApi.as_view(),
        name="application_ethics",
    ),
    path(
        "applications/<int:pk>/submit/",
        api.ApplicationSubmitApi.as_view(),
        name="application_submit",
    ),
    path(
        "applications/<int:pk>/missing/",
        api.ApplicationMissingApi.as_view(),
        name="application_missing",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        api.ApplicationWithdrawApi.as_view(),
        name="application_withdraw",
    ),
    path("applications/<int:pk>/team/", api.ApplicationTeamApi.as_view(), name="application_team"),
    path(
        "applications/<int:pk>/clarification-answer/",
        api.ApplicationClarificationAnswerApi.as_view(),
        name="application_clarification_answer",
    ),
    path(
        "applications/<int:pk>/comments/",
        api.ApplicationCommentsApi.as_view(),
        name="application_comments",
    ),
    path(
        "applications/<int:pk>/extend-deadline/",
        api.ApplicationExtendDeadlineApi.as_view(),
        name="application_extend_deadline",
    ),
    path("reviews/", api.ReviewListApi.as_view(), name="reviews"),
    path("reviews/<int:pk>/", api.ReviewDetailApi.as_view(), name="review"),
    path("reviews/<int:pk>/conflict/", api.ReviewConflictApi.as_view(), name="review_conflict"),
    path("reviews/<int:pk>/vote/", api.ReviewVoteApi.as_view(), name="review_vote"),
    path(
        "reviews/<int:pk>/clarification/",
        api.ReviewClarificationApi.as_view(),
        name="review_clarification",
    ),
    path("reviews/<int:pk>/decide/", api.ReviewDecideApi.as_view(), name="review_decide"),
    path("invitations/<str:token>/", api.InvitationAnswerApi.as_view(), name="invitation"),
    path("permits/", api.PermitListApi.as_view(), name="permits"),
    path("permits/<int:pk>/", api.PermitDetailApi.as_view(), name="permit"),
    path("permits/<int:pk>/change/", api.PermitChangeApi.as_view(), name="permit_change"),
]
