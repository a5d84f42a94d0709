"""EHDS Article 53(1) purposes of secondary use: the codes as stored, their labels, and the sets
the rules read.

The one source for every app: an application and a permit state one purpose, Art 53(2) reserves
some of them for public sector bodies, and the pre-screening (``access.prescreen``) reads whether
a purpose is research and whether it develops methods.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    """EHDS Article 53(1) purposes of secondary use (an exhaustive list)."""

    PUBLIC_HEALTH = "public_health", _("(a) Public interest in public or occupational health")
    POLICY = "policy", _("(b) Policymaking and regulatory activities")
    STATISTICS = "statistics", _("(c) Official statistics")
    EDUCATION = "education", _("(d) Education or teaching in health or care")
    RESEARCH = "research", _("(e) Scientific research related to health or care")
    RESEARCH_INNOVATION = (
        "research_innovation",
        _("(e)(i) Research: development and innovation of products or services"),
    )
    RESEARCH_AI = (
        "research_ai",
        _("(e)(ii) Research: training, testing and evaluating algorithms, including AI"),
    )
    IMPROVING_CARE = "improving_care", _("(f) Improving the delivery of care and treatment")


# Art 53(2): purposes (a)–(c) are reserved for public sector bodies and Union institutions.
PUBLIC_SECTOR_PURPOSES = {Purpose.PUBLIC_HEALTH, Purpose.POLICY, Purpose.STATISTICS}

# (e) scientific research, with its points (i) and (ii).
RESEARCH_PURPOSES = frozenset({Purpose.RESEARCH, Purpose.RESEARCH_INNOVATION, Purpose.RESEARCH_AI})
# (e)(i) and (e)(ii): developing products, services or algorithms, i.e. methods development.
METHODS_PURPOSES = frozenset({Purpose.RESEARCH_INNOVATION, Purpose.RESEARCH_AI})

# Short names the pre-screening quotes in its findings. Findings are stored as written, so these
# stay in English rather than follow the reader's language.
FINDING_NAMES: dict[str, str] = {
    Purpose.PUBLIC_HEALTH: "(a) public or occupational health",
    Purpose.POLICY: "(b) policymaking and regulation",
    Purpose.STATISTICS: "(c) official statistics",
    Purpose.EDUCATION: "(d) education in health or care",
    Purpose.RESEARCH: "(e) scientific research",
    Purpose.RESEARCH_INNOVATION: "(e)(i) research: development and innovation",
    Purpose.RESEARCH_AI: "(e)(ii) research: training, testing and evaluating algorithms or AI",
    Purpose.IMPROVING_CARE: "(f) improving care",
}
