"""The citizen's forms (donating, changing a donation, entering a link code) and the node
operator's (issuing a link code). The services check every choice again; their refusals are
put on the fields they name (``portal.forms.show_refusal``)."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue import duo
from catalogue.models import Node
from consent import fhir, services, wording
from consent.models import DonorLink

# The furthest a chosen last day may lie: further is no real choice, and near the year 9999
# the first instant after the day cannot be written.
MAX_YEARS_AHEAD = 100


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class DonationForm(forms.Form):
    """A donation's choices, as ``donation_create`` and ``donation_change`` take them. The
    nodes offered are those where the citizen linked their images."""

    nodes = forms.TypedMultipleChoiceField(
        label=_("Hospitals or nodes that hold your images"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one hospital or node.")},
    )
    categories = forms.MultipleChoiceField(
        label=_("Kinds of data"),
        choices=list(wording.CATEGORIES.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one kind of data.")},
    )
    purposes = forms.MultipleChoiceField(
        label=_("Purposes your data may be used for"),
        help_text=_(
            "The purposes of the European Health Data Space regulation (EHDS, Article 53). "
            "Public authorities alone may use data for the first three."
        ),
        choices=list(wording.PURPOSES.items()),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one purpose.")},
    )
    research = forms.ChoiceField(
        label=_("Which research"),
        help_text=_(
            "This limits the research purposes only (Article 53(1)(e), including new "
            "products and AI); the other purposes you chose are not limited by it."
        ),
        choices=list(wording.RESEARCH_KINDS.items()),
        widget=forms.RadioSelect,
        required=False,
        initial=wording.ANY_USE,
    )
    disease = forms.CharField(
        label=_("The disease, for research on one disease"),
        help_text=_("As the hospital names it, for example “breast cancer”."),
        max_length=services.DISEASE_MAX_LENGTH,
        required=False,
    )
    conditions = forms.MultipleChoiceField(
        label=_("Conditions every use must meet"),
        choices=list(wording.CONDITIONS.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    until = forms.DateField(
        label=_("Until"),
        help_text=_(
            "The last day your donation covers. Leave it empty to donate until you withdraw."
        ),
        required=False,
        widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, links: Sequence[DonorLink], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names: dict[int, list[str]] = {}
        nodes: dict[int, Node] = {}
        for link in links:
            nodes[link.node_id] = link.node
            names.setdefault(link.node_id, []).append(link.subject)
        self.nodes_by_pk = nodes
        self.fields["nodes"].choices = [
            (
                pk,
                _("%(node)s (your images there are named %(pseudonyms)s)")
                % {"node": node.name, "pseudonyms": ", ".join(names[pk])},
            )
            for pk, node in nodes.items()
        ]

    def clean_until(self):
        until = self.cleaned_data["until"]
        today = timezone.localdate()
        if until is not None and until < today:
            raise ValidationError(_("The last day cannot be in the past."))
        if until is not None and until > _years_after(today, MAX_YEARS_AHEAD):
            raise ValidationError(
                _("The last day can be at most %(years)d years from today; leave it empty to "
                  "donate until you withdraw.") % {"years": MAX_YEARS_AHEAD}
            )  # fmt: skip
        return until

    def clean(self):
        data = super().clean()
        research = data.get("research") or wording.ANY_USE
        disease = " ".join((data.get("disease") or "").split())
        if "disease" in self.errors:
            pass  # too long already: a second message about it would be wrong
        elif research == duo.DS and not disease:
            self.add_error("disease", _("Name the disease the research must be about."))
        elif disease and research != duo.DS:
            self.add_error(
                "disease",
                _("Choose “Research on one disease only” above, or leave the disease empty."),
            )
        data["disease"] = disease
        return data

    def choices(self) -> dict[str, Any]:
        """The cleaned choices as the services take them."""
        data = self.cleaned_data
        research = [data["research"]] if data.get("research") else []
        return {
            "nodes": [self.nodes_by_pk[pk] for pk in data["nodes"]],
            "categories": data["categories"],
            "purposes": data["purposes"],
            "duo_codes": research + list(data.get("conditions") or []),
            "until": data.get("until"),
            "disease": data.get("disease") or "",
        }

    @staticmethod
    def initial_from(choices: fhir.DonationChoices | None, links: Sequence[DonorLink]) -> dict:
        """The form's initial values: the choices of the donation it changes."""
        if choices is None:
            return {"research": wording.ANY_USE}
        by_audience = {link.node.audience: link.node_id for link in links}
        research = [c for c in choices.duo_codes if c in wording.RESEARCH_KINDS]
        return {
            "nodes": [by_audience[a] for a in choices.nodes if a in by_audience],
            "categories": list(choices.categories),
            "purposes": list(choices.purposes),
            "research": research[0] if research else wording.ANY_USE,
            "disease": choices.disease,
            "conditions": [c for c in choices.duo_codes if c in wording.CONDITIONS],
            "until": choices.until,
        }


class LinkCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Link code"),
        help_text=_("The 16 characters your hospital gave you, for example ABCD-EFGH-JKLM-NPQR."),
        max_length=40,
        error_messages={"required": _("Enter the code your hospital gave you.")},
        widget=forms.TextInput({"autocomplete": "off", "autocapitalize": "characters"}),
    )


class IssueLinkCodeForm(forms.Form):
    subject = forms.CharField(
        label=_("Patient's pseudonym at this node"),
        help_text=_("The PatientID their de-identified images carry here."),
        max_length=64,
        error_messages={"required": _("Enter the pseudonym the images carry.")},
        widget=forms.TextInput({"autocomplete": "off"}),
    )
