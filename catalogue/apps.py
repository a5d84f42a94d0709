from django.apps import AppConfig


def _demo(people: dict) -> str:
    """Two demo nodes run by the demo operator, with published datasets."""
    from catalogue.demo import load_demo_catalogue

    created = load_demo_catalogue(operator=people["operator"])
    return f"Demo catalogue: {created} datasets at 2 nodes." if created else ""


class CatalogueConfig(AppConfig):
    name = "catalogue"

    def ready(self) -> None:
        from catalogue import audit_actions, dashboards  # noqa: F401  (register with portal)
        from portal.demo import register_demo

        register_demo(_demo)
