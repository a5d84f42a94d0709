from django.urls import path

from access import views, views_committees

app_name = "access"

urlpatterns = [
    path("committees/", views_committees.committee_list, name="committee_list"),
    path("committees/new/", views_committees.committee_create, name="committee_create"),
    path("committees/<int:pk>/", views_committees.committee_detail, name="committee_detail"),
    path(
        "committees/<int:pk>/members/",
        views_committees.committee_member_add,
        name="committee_member_add",
    ),
    path(
        "committees/<int:pk>/members/<int:user_pk>/remove/",
        views_committees.committee_member_remove,
        name="committee_member_remove",
    ),
    path("applications/", views.application_list, name="application_list"),
    path("applications/new/", views.application_create, name="application_create"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application_edit"),
    path("applications/<int:pk>/team/", views.application_team_invite, name="team_invite"),
    path(
        "applications/<int:pk>/withdraw/", views.application_withdraw, name="application_withdraw"
    ),
    path("applications/<int:pk>/answer/", views.application_answer, name="application_answer"),
    path("applications/<int:pk>/comments/", views.application_comment, name="application_comment"),
    path("applications/<int:pk>/ethics/", views.application_ethics_file, name="ethics_file"),
    path("applications/<int:pk>/extend/", views.application_extend, name="application_extend"),
    path("reviews/<int:pk>/conflict/", views.review_conflict, name="review_conflict"),
    path("reviews/<int:pk>/vote/", views.review_vote, name="review_vote"),
    path("reviews/<int:pk>/clarify/", views.review_clarify, name="review_clarify"),
    path("reviews/<int:pk>/comments/", views.review_comment, name="review_comment"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("permits/", views.permit_list, name="permit_list"),
    path("permits/<int:pk>/", views.permit_detail, name="permit_detail"),
    path("permits/<int:pk>/change/", views.permit_change, name="permit_change"),
]
