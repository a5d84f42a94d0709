from django.conf import settings

from portal.navigation import nav_items


def navigation(request):
    return {
        "nav_items": nav_items(request.user, request.path),
        "oidc_enabled": bool(settings.OIDC_DISCOVERY_URL),
        "oidc_provider_name": settings.OIDC_PROVIDER_NAME,
    }
