from django.apps import AppConfig


def _demo(people: dict) -> str:
    """The demo citizen's images at the Oslo node, linked, and their donation."""
    from consent.demo import DEMO_PSEUDONYM, load_demo_donor

    added = load_demo_donor(citizen=people["citizen"], operator=people["operator"])
    return f"Demo donation: 'citizen' linked {DEMO_PSEUDONYM} at Oslo and donated." if added else ""


class ConsentConfig(AppConfig):
    name = "consent"

    def ready(self) -> None:
        from consent import audit_actions, dashboards  # noqa: F401  (register with portal)
        from portal.demo import register_demo

        register_demo(_demo)
