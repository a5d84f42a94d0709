from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"

    def ready(self) -> None:
        from catalogue import audit_actions  # noqa: F401  (registers the catalogue's actions)
