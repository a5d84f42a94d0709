from django import forms
from django.utils.translation import gettext_lazy as _

from catalogue import duo
from catalogue.models import Dataset, Node
from catalogue.validators import validate_public_email_field, validate_public_url_field
from catalogue.vocabularies import AccessCondition, CollectionMethod, HealthCategory, Modality, Sex


class ListField(forms.CharField):
    """A comma-separated list of free values (keywords, conditions, body parts)."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


def _check_addresses(form: forms.BaseForm, **rules) -> None:
    """Give the named fields the publishable-address rule of ``catalogue.validators`` (the
    model fields' own), so that the form names the problem before anything else runs."""
    for name, validator in rules.items():
        form.fields[name].validators.append(validator)


def _checkboxes(choices, label, required=False, help_text=""):
    return forms.MultipleChoiceField(
        choices=choices,
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.CheckboxSelectMultiple,
    )


class DatasetForm(forms.ModelForm):
    """The HealthDCAT-AP description of a dataset, as a node operator fills it in."""

    keywords = ListField(label=_("Keywords"), required=False, help_text=_("Separated by commas."))
    conditions = ListField(
        label=_("Cancer types / conditions"),
        help_text=_("Separated by commas, e.g. breast cancer, C50 (ICD-10)."),
    )
    body_parts = ListField(
        label=_("Body parts"),
        required=False,
        help_text=_("DICOM Body Part Examined values, separated by commas (e.g. BREAST, CHEST)."),
    )
    health_categories = _checkboxes(HealthCategory.choices, _("Health categories"), True)
    modalities = _checkboxes(Modality.choices, _("Image modalities"))
    sexes = _checkboxes(Sex.choices, _("Sex of the subjects"))
    access_conditions = _checkboxes(AccessCondition.choices, _("Access conditions"), True)
    collection_methods = _checkboxes(
        CollectionMethod.choices,
        _("How the studies were collected"),
        True,
        help_text=_("EUCAIM collection method: tick every one that applies."),
    )
    duo_codes = _checkboxes(
        duo.CHOICES, _("Data-use conditions (GA4GH DUO)"), help_text=_("What uses are allowed.")
    )

    class Meta:
        model = Dataset
        fields = [
            "title", "description", "keywords", "conditions", "health_categories",
            "access_rights", "modalities", "body_parts", "sexes", "min_age", "max_age",
            "temporal_start", "temporal_end", "interoperability_level", "collection_methods",
            "access_conditions", "duo_codes",
            "publisher_name", "contact_name", "contact_email", "licence", "version",
        ]  # fmt: skip
        widgets = {
            "temporal_start": forms.DateInput(attrs={"type": "date"}),
            "temporal_end": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 5}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["publisher_name"].required = False
        self.fields["publisher_name"].help_text = _("Defaults to the node's organisation.")
        self.fields["interoperability_level"].help_text = _(
            "The EUCAIM tier the dataset belongs to: 1, described in the catalogue; 2, also "
            "searchable through the federated search; 3, also open to federated processing."
        )
        _check_addresses(
            self, licence=validate_public_url_field, contact_email=validate_public_email_field
        )

    def _post_clean(self):
        # Validation belongs to the service (it sees the whole dataset); skip the model's.
        pass


class NodeForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = ["name", "slug", "organisation", "country", "contact_email",
                  "dicomweb_base_url", "audience", "gate_profile"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _check_addresses(
            self,
            contact_email=validate_public_email_field,
            dicomweb_base_url=validate_public_url_field,
        )
        # Left out, the gate is the model's default (strict), not an error.
        self.fields["gate_profile"].required = False

    def clean_gate_profile(self):
        return self.cleaned_data.get("gate_profile") or Node.GateProfile.STRICT


class GateProfileForm(forms.ModelForm):
    class Meta:
        model = Node
        fields = ["gate_profile"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            if not data and self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class IngestForm(forms.Form):
    files = MultipleFileField(
        label=_("DICOM files"),
        help_text=_("Headers only are read; files that are not de-identified are refused."),
    )
