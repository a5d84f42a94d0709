from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"

    def ready(self) -> None:
        from consent import audit_actions, dashboards  # noqa: F401  (register with portal)
