"""Forms of the public register: its search, the access body's decision notice and results
clock, and the permit holder's results."""

from django import forms
from django.utils.translation import gettext_lazy as _

from access.models import RegisterOutcome, ResultOutput
from access.selectors_register import RegisterFilters
from catalogue.purposes import Purpose


def _text(rows: int = 4) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class RegisterSearchForm(forms.Form):
    """The register's search. A value that is not one of the choices is dropped, not an
    error: the register answers with what it can."""

    q = forms.CharField(label=_("Words in the title or summary"), required=False, max_length=200)
    purpose = forms.ChoiceField(label=_("Purpose"), required=False)
    dataset = forms.TypedChoiceField(label=_("Dataset"), required=False, coerce=int)
    organisation = forms.CharField(label=_("Organisation"), required=False, max_length=200)
    year = forms.TypedChoiceField(label=_("Year received"), required=False, coerce=int)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)

    def __init__(self, *args, datasets=(), years=(), **kwargs):
        super().__init__(*args, **kwargs)
        anything = [("", _("Any"))]
        self.fields["purpose"].choices = anything + list(Purpose.choices)
        self.fields["dataset"].choices = anything + [(d.pk, d.title) for d in datasets]
        self.fields["year"].choices = anything + [(y, str(y)) for y in years]
        self.fields["outcome"].choices = anything + list(RegisterOutcome.choices)

    def filters(self) -> RegisterFilters:
        self.is_valid()
        data = {name: self.cleaned_data.get(name) for name in self.fields}
        return RegisterFilters(
            q=(data["q"] or "").strip(),
            purpose=data["purpose"] or "",
            dataset=data["dataset"] or None,
            organisation=(data["organisation"] or "").strip(),
            year=data["year"] or None,
            outcome=data["outcome"] or "",
        )

    def query(self) -> str:
        """The valid filters as a query string, for the pages' links."""
        from urllib.parse import urlencode

        self.is_valid()
        return urlencode({k: v for k, v in self.cleaned_data.items() if v not in ("", None)})


class DecisionPublishForm(forms.Form):
    justification = forms.CharField(
        label=_("Justification for the public"),
        widget=_text(6),
        help_text=_(
            "Published in the register with the outcome. Write it for the public: no names, "
            "no details from the committees' internal discussion."
        ),
    )


class ResultsSummaryForm(forms.Form):
    lay_summary = forms.CharField(
        label=_("Summary of the results for the public"),
        widget=_text(5),
        help_text=_("What the project found, in a few plain sentences."),
    )


class ResultOutputForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ResultOutput.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=300)
    reference = forms.CharField(
        label=_("DOI or web address"),
        max_length=500,
        help_text=_("For example 10.1234/abcd or https://example.org/model."),
    )


class ResultsExtendForm(forms.Form):
    until = forms.DateField(
        label=_("New due day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    reason = forms.CharField(label=_("Reason"), widget=_text(3))
