from django.apps import AppConfig


def _demo(people: dict) -> str:
    """Demo committees governing the demo catalogue, chaired by the demo committee member."""
    from access.demo import load_demo_committees, load_demo_permit

    committees = load_demo_committees(chair=people["committee"])
    permit = load_demo_permit(
        researcher=people["researcher"], chair=people["committee"], access_body=people["hdab"]
    )
    said = [f"Demo committees: {committees}, chaired by 'committee'." if committees else ""]
    if permit:
        said.append("Demo permit: 'researcher' holds one for the breast MRI cohort, its decision "
                    "in the public register.")  # fmt: skip
    return "\n".join(s for s in said if s)


class AccessConfig(AppConfig):
    name = "access"

    def ready(self) -> None:
        from access import audit_actions, dashboards  # noqa: F401  (register with portal)
        from access.selectors import applications_including
        from access.services.exclusions import follow_consent_change
        from catalogue.selectors import register_basket_claims
        from catalogue.signals import studies_indexed
        from consent.signals import subjects_changed
        from portal.demo import register_demo

        register_basket_claims(applications_including)
        # Each node's consent exclusion list follows a consent's change in its transaction.
        subjects_changed.connect(follow_consent_change, dispatch_uid="access.exclusions")
        # ... and a study newly indexed at the node (a subject new to a dataset).
        studies_indexed.connect(follow_consent_change, dispatch_uid="access.exclusions.ingest")

        register_demo(_demo)
