from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"

    def ready(self) -> None:
        from access import audit_actions  # noqa: F401  (registers access's actions)
