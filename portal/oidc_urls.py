"""Login through OpenID Connect, mounted under /accounts/oidc/."""

from django.urls import path

from portal import oidc

urlpatterns = [
    path("login/", oidc.oidc_login, name="oidc_login"),
    path("callback/", oidc.oidc_callback, name="oidc_callback"),
    path("link/", oidc.oidc_link, name="oidc_link"),
]
