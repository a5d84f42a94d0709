"""The demo citizen's consent (``manage.py demo_data``, development only): their images at the
Oslo demo node linked to their account with a link code the demo operator issued, and a
donation of them for health research that is not commercial."""

from catalogue import duo
from catalogue.models import Node
from consent import services
from consent.models import DonorLink
from portal.models import User

DEMO_NODE = "oslo"
DEMO_PSEUDONYM = "OSLO-BR-0042"


def load_demo_donor(*, citizen: User, operator: User) -> bool:
    """Link the demo pseudonym to ``citizen`` and record their donation, once. Returns whether
    anything was added (not when the link exists already or the demo node is missing)."""
    node = Node.objects.filter(slug=DEMO_NODE).first()
    if node is None or DonorLink.objects.filter(node=node, subject=DEMO_PSEUDONYM).exists():
        return False
    _link_code, code = services.link_code_issue(node=node, subject=DEMO_PSEUDONYM, actor=operator)
    services.link_code_redeem(citizen=citizen, code=code)
    services.donation_create(
        citizen=citizen,
        nodes=[node],
        categories=["imaging", "clinical"],
        purposes=["research", "public_health"],
        duo_codes=[duo.HMB, duo.NCU],
    )
    return True
