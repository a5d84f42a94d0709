"""Demo committees for ``manage.py demo_data`` (development only), and one decided
application, so that the researcher holds a permit and the public register has an entry."""

from access import services
from access.models import Application, Committee, SigningKey
from access.services import committee_add_member, committee_create
from catalogue.models import Dataset, Node

DEMO_APPLICATION = "Early signs of breast cancer on screening MRI"
DEMO_DATASET = "Breast MRI screening cohort"
# What the demo researcher wrote, lay summary and all (the register publishes some of it).
DEMO_FIELDS = {
    "lay_title": "Finding breast cancer earlier on screening scans",
    "lay_summary": "We study whether a computer program can point radiologists to small "
    "tumours on breast MRI scans that are easy to miss, so that they are found sooner.",
    "ai_use": "trained",
    "organisation": "Instituto de Oncologia",
    "purpose": "research_ai",
    "purpose_description": "Train and validate a lesion detection model on screening MRI.",
    "duo_codes": ["DUO:0000006"],
    "intended_use": "Model training in the secure processing environment of the Oslo node.",
    "expected_benefit": "Earlier detection of breast cancer in screening.",
    "data_form": "pseudonymised",
    "pseudonymisation_justification": "Follow-up across screening rounds needs linked studies.",
    "legal_basis": "GDPR Art 6(1)(e) and 9(2)(j), public interest research of the institute.",
    "safeguards": "No export of images; every output checked before release.",
    "processing_months": 24,
    "tools": "Python and PyTorch in the node's processing environment.",
    "ethics_not_required": "Approved under the national secondary-use framework.",
    "prohibited_uses_confirmed": True,
}


def load_demo_committees(*, chair) -> int:
    """One committee per demo node, chaired by ``chair``. Returns how many were created."""
    created = 0
    for slug, name, rule in [
        ("oslo", "Oslo imaging data access committee", Committee.DecisionRule.CHAIR),
        ("valencia", "Valencia imaging data access committee", Committee.DecisionRule.MAJORITY),
    ]:
        node = Node.objects.filter(slug=slug).first()
        if node is None or Committee.objects.filter(name=name).exists():
            continue
        committee = committee_create(actor=None, name=name, decision_rule=rule, nodes=[node])
        committee_add_member(committee=committee, user=chair, actor=None, chair=True)
        created += 1
    return created


def load_demo_permit(*, researcher, chair, access_body) -> bool:
    """The researcher's application for the breast cohort, submitted, approved by the Oslo
    committee's chair, and its decision published in the register, once, with the portal's
    first signing keys. Returns whether it
    was made (not when it exists, or the demo dataset is missing)."""
    dataset = Dataset.objects.filter(title=DEMO_DATASET, status="published").first()
    if dataset is None or Application.objects.filter(title=DEMO_APPLICATION).exists():
        return False
    application = services.application_create(
        applicant=researcher, title=DEMO_APPLICATION, datasets=[dataset]
    )
    application = services.application_update(
        application=application, actor=researcher, **DEMO_FIELDS
    )
    application = services.application_submit(application=application, actor=researcher)
    for review in application.reviews.all():
        services.review_decide(
            review=review, actor=chair, approve=True,
            conditions="Outputs are checked by the node before release.",
        )  # fmt: skip
    application.refresh_from_db()
    services.decision_publish(
        application=application,
        actor=access_body,
        justification="The project serves scientific research in the public interest "
        "(EHDS Art 53(1)(e)) and the data stay in the node's secure processing environment.",
    )
    if not SigningKey.objects.filter(status=SigningKey.Status.ACTIVE).exists():
        services.signing_key_create(actor=access_body)  # so that the permit gives tokens
    return True
