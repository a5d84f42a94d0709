"""Forms of the access pages. They parse and type the input; the services decide what the
workflow allows, so most fields are optional here and the service's refusal is shown instead."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxLengthValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access import uploads
from access.limits import APPLICATION_TEXT, LONG_TEXT, NOTE
from access.models import AiUse, Application, Committee, RefusalGround, Vote
from access.permissions import members_of
from access.services import APPLICANT_FIELDS, PERMIT_CHANGES, check_permit_end
from catalogue import duo
from catalogue.forms import ListField
from catalogue.purposes import Purpose
from portal.models import Role, User


def _text(rows=3):
    return forms.Textarea(attrs={"rows": rows})


class ApplicationCreateForm(forms.Form):
    title = forms.CharField(label=_("Project title"), max_length=300)


class ApplicationForm(forms.ModelForm):
    """Every field of an Art 67(2) application. All optional but the title: drafts may be
    partial, and submission lists what is still missing."""

    purpose = forms.ChoiceField(
        label=_("Purpose (EHDS Art 53(1))"),
        choices=Purpose.choices,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("Purposes (a) to (c) are reserved for public sector bodies (Art 53(2))."),
    )
    duo_codes = forms.MultipleChoiceField(
        label=_("Data use (GA4GH DUO codes)"),
        choices=duo.CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The codes that describe your use; compared with each dataset's conditions."),
    )
    disease_codes = ListField(
        label=_("Diseases studied"),
        required=False,
        help_text=_("Names or ICD-10 codes, separated by commas (e.g. breast cancer, C50)."),
    )
    ai_use = forms.ChoiceField(
        label=_("Artificial intelligence"),
        choices=AiUse.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    data_form = forms.ChoiceField(
        label=_("Form of the data"),
        choices=Application.DataForm.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    ethics_approval = forms.FileField(
        label=_("Ethics approval"),
        required=False,
        widget=forms.FileInput(attrs={"accept": uploads.ETHICS_ACCEPT}),
    )
    remove_datasets = forms.TypedMultipleChoiceField(
        label=_("Remove from the application"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Application
        fields = APPLICANT_FIELDS
        widgets = {
            "data_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "data_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            **{
                name: _text()
                for name in [
                    "lay_summary", "purpose_description", "intended_use", "expected_benefit",
                    "pseudonymisation_justification", "legal_basis", "safeguards",
                    "processing_justification", "tools", "ethics_not_required",
                ]
            },
        }  # fmt: skip

    def __init__(self, *args, items=(), can_remove=False, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name == "title"
        for name, limit in APPLICATION_TEXT.items():
            field = self.fields[name]
            field.max_length = limit
            field.validators.append(MaxLengthValidator(limit))
            field.widget.attrs["maxlength"] = str(limit)
        self.fields["processing_months"].widget.attrs.update(min=1, max=120)
        self.fields["lay_title"].help_text = _(
            "Shown in the public register. Plain words a patient would understand."
        )
        self.fields["lay_summary"].help_text = _(
            "Shown in the public register: what the project does and why, in a few plain "
            "sentences. Do not name people or give confidential details."
        )
        self.fields["ethics_approval"].help_text = uploads.ethics_help_text()
        if can_remove:
            self.fields["remove_datasets"].choices = [
                (item.dataset_id, item.dataset.title) for item in items
            ]
        else:
            del self.fields["remove_datasets"]

    def clean_ethics_approval(self):
        """A new file must pass the one rule for ethics approvals; it is renamed for storage."""
        upload = self.cleaned_data.get("ethics_approval")
        if isinstance(upload, UploadedFile):
            return uploads.ethics_document(upload, application=self.instance)
        return upload

    def _post_clean(self):
        # The service validates the whole application; the model's own checks are skipped.
        pass

    def changes(self) -> dict:
        """The fields to hand to ``application_update``: a file only when one was uploaded."""
        data = {name: self.cleaned_data[name] for name in APPLICANT_FIELDS}
        if not isinstance(data["ethics_approval"], UploadedFile):
            del data["ethics_approval"]
        for name in ["purpose", "data_form", "ai_use"]:
            data[name] = data[name] or ""
        return data


class TeamInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.CharField(label=_("Role in the project"), max_length=100, required=False)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you withdraw? (optional)"),
        required=False,
        widget=_text(),
        max_length=LONG_TEXT,
    )


class ClarificationAnswerForm(forms.Form):
    answer = forms.CharField(label=_("Your answer"), widget=_text(5), max_length=LONG_TEXT)


class ApplicantCommentForm(forms.Form):
    body = forms.CharField(
        label=_("Message to the committees"), widget=_text(), max_length=LONG_TEXT
    )


class CommitteeCommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), widget=_text(), max_length=LONG_TEXT)
    visible_to_applicant = forms.BooleanField(
        label=_("Show this comment to the applicant"),
        required=False,
        help_text=_("Left unticked, only your committee sees it."),
    )


class ConflictForm(forms.Form):
    note = forms.CharField(
        label=_("Nature of the conflict (optional)"), required=False, max_length=NOTE
    )


class VoteForm(forms.Form):
    choice = forms.ChoiceField(label=_("Your vote"), choices=Vote.Choice.choices,
                               widget=forms.RadioSelect)  # fmt: skip
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=_text(),
        max_length=LONG_TEXT,
        help_text=_("Required when you vote to reject."),
    )


class ClarificationRequestForm(forms.Form):
    question = forms.CharField(label=_("Question for the applicant"), required=False,
                               widget=_text(), max_length=LONG_TEXT)  # fmt: skip
    incomplete = forms.BooleanField(
        label=_("The application is incomplete"),
        required=False,
        help_text=_(
            "Stops the decision clock; the applicant has four weeks to complete it (Art 68(4))."
        ),
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision of the committee"),
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reasons"),
        required=False,
        widget=_text(),
        max_length=LONG_TEXT,
        help_text=_("Required to reject; the applicant reads them."),
    )
    ground = forms.ChoiceField(
        label=_("Ground of the refusal (Article 68)"),
        required=False,
        choices=[("", _("Not stated")), *RefusalGround.choices],
        help_text=_(
            "When rejecting: the criterion it rests on, counted in the access body's figures."
        ),
    )
    conditions = forms.CharField(label=_("Conditions of the permit"), required=False,
                                 widget=_text(), max_length=LONG_TEXT)  # fmt: skip
    ends_on = forms.DateField(
        label=_("Permit end date (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At most 10 years (Art 68(12)); by default the requested processing period."),
    )

    def clean(self):
        # Checked here too, so that the confirmation step never asks to confirm what the
        # service would refuse; the service still decides.
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reasons for rejecting."))
        if data.get("ends_on") is not None:
            try:
                check_permit_end(timezone.localdate(), data["ends_on"])
            except ValidationError as error:
                self.add_error(None, error)
        return data


class ExtensionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the extension"),
        required=False,
        widget=_text(),
        max_length=LONG_TEXT,
        help_text=_("Once, by three months (Art 68(4)); the applicant is told the reason."),
    )

    def clean_reason(self):
        # Before the confirmation step, as the service would refuse it after.
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the deadline is extended."))
        return reason


class PermitChangeForm(forms.Form):
    change = forms.ChoiceField(choices=[(name, name) for name in PERMIT_CHANGES])
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=_text(),
        max_length=LONG_TEXT,
        help_text=_("Required to suspend or revoke; the holder is told."),
    )

    def clean(self):
        # Before the confirmation step of a revocation, as the service would refuse it after.
        data = super().clean()
        spec = PERMIT_CHANGES.get(data.get("change", ""))
        if spec and spec.needs_reason and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason."))
        return data


class CommitteeForm(forms.ModelForm):
    """A committee's description, decision rule and what it governs."""

    class Meta:
        model = Committee
        fields = ["name", "description", "email", "decision_rule", "nodes", "datasets"]
        widgets = {
            "nodes": forms.CheckboxSelectMultiple,
            "datasets": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "nodes": _("Every dataset of these nodes, unless another committee names it."),
            "datasets": _("These datasets, whichever node holds them."),
        }

    def _post_clean(self):
        # The service validates and saves; the model form only parses.
        pass


class CommitteeMemberForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Person"),
        queryset=User.objects.none(),
        help_text=_("People holding the committee member role."),
    )
    chair = forms.BooleanField(label=_("Chair"), required=False)

    def __init__(self, *args, committee: Committee | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        people = User.objects.filter(
            is_active=True, role_assignments__role=Role.COMMITTEE_MEMBER
        ).distinct()
        if committee is not None:  # its members are not offered again
            people = people.exclude(pk__in=members_of(committee).values("pk"))
        self.fields["user"].queryset = people.order_by("last_name", "username")
        self.fields["user"].label_from_instance = lambda u: f"{u.display_name} ({u.username})"
