from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/oidc/", include("portal.oidc_urls")),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/<slug:slug>/", views.role_dashboard, name="role_dashboard"),
    path("audit/", views.audit_log, name="audit_log"),
    path("catalogue/", include("catalogue.urls")),
    path("", include("catalogue.urls_dcat")),
    path("api/catalogue/", include("catalogue.api_urls")),
    path("api/access/", include("access.api.urls")),
    path("access/", include("access.urls")),
    path("consent/", include("consent.urls")),
    path("", include("access.urls_oauth")),  # /.well-known/ and /oauth/
    path("fhir/", include("consent.fhir_api.urls")),  # FHIR R5 (docs/consent.md)
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

# JSON under /api/, the portal's HTML pages elsewhere.
handler400 = "portal.api_errors.bad_request"
handler403 = "portal.api_errors.permission_denied"
handler404 = "portal.api_errors.page_not_found"
handler500 = "portal.api_errors.server_error"
