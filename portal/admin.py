"""Django admin for administrators. Every change made here goes into the audit chain too:
people (created, changed, deleted, one at a time or in bulk), their roles, groups and
permissions, passwords (set for someone, or changed for oneself), and groups with their
permissions. The audit details name what changed, never a password or its hash, and identify
people by pseudonym.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.admin.utils import NestedObjects, unquote
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import Group
from django.db import models, router, transaction
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from portal import audit_actions
from portal.audit import audit_record
from portal.models import AuditEvent, ExternalIdentity, RoleAssignment, User

# Flags whose new value the audit records (not only that they changed): they grant power.
PRIVILEGE_FLAGS = ("is_active", "is_staff", "is_superuser")


def _permission_labels(permissions) -> set[str]:
    """``app_label.codename`` of each permission, the form ``has_perm`` takes."""
    return {
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    }


def _diff(before: set[str], after: set[str]) -> dict:
    return {"added": sorted(after - before), "removed": sorted(before - after)}


def _deleted_with(obj: models.Model) -> dict[str, int]:
    """How many rows of each other model a deletion of ``obj`` takes with it (as the admin's
    confirmation page lists them)."""
    collector = NestedObjects(using=router.db_for_write(type(obj)))
    collector.collect([obj])
    return {
        model._meta.label_lower: len(rows)
        for model, rows in sorted(collector.model_objs.items(), key=lambda i: i[0]._meta.label)
        if model is not type(obj)
    }


class AuditedPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change my password" form: the change is recorded in the audit chain."""

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                audit_record(
                    "portal.user.password_changed", actor=user, obj=user, details={"via": "admin"}
                )
        return user


admin.site.password_change_form = AuditedPasswordChangeForm


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    fk_name = "user"
    extra = 0
    fields = ["role", "granted_at", "granted_by"]
    readonly_fields = ["granted_at", "granted_by"]


class ExternalIdentityInline(admin.TabularInline):
    model = ExternalIdentity
    extra = 0
    fields = ["issuer", "subject", "linked_at", "last_login_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "pseudonym", "email", "organisation", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "role_assignments__role"]
    search_fields = ["username", "pseudonym", "email", "organisation"]
    readonly_fields = ["pseudonym", "last_login", "date_joined"]
    inlines = [RoleAssignmentInline, ExternalIdentityInline]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        ("Portal", {"fields": ["pseudonym", "organisation"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = sorted(form.changed_data)
        if "password" in changed:
            changed.remove("password")
            changed.append("password (new hash)")
        details = {"fields": changed, "via": "admin"}
        flags = {flag: getattr(obj, flag) for flag in PRIVILEGE_FLAGS if flag in changed}
        if flags:
            details["values"] = flags
        audit_record(
            "portal.user.changed" if change else "portal.user.created",
            actor=request.user,
            obj=obj,
            details=details,
        )

    def save_related(self, request, form, formsets, change):
        """Save groups, permissions and inlines; record which groups and which permissions the
        person gained or lost."""
        person = form.instance
        groups_before = set(person.groups.values_list("name", flat=True))
        permissions_before = _permission_labels(person.user_permissions)
        super().save_related(request, form, formsets, change)
        groups = _diff(groups_before, set(person.groups.values_list("name", flat=True)))
        permissions = _diff(permissions_before, _permission_labels(person.user_permissions))
        for action, diff in (
            ("portal.user.groups_changed", groups),
            ("portal.user.permissions_changed", permissions),
        ):
            if diff["added"] or diff["removed"]:
                audit_record(
                    action, actor=request.user, obj=person, details={**diff, "via": "admin"}
                )

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        """Django's page that sets (or disables) someone's password; the change is recorded in
        the audit chain, in the same transaction."""
        with transaction.atomic(using=router.db_for_write(self.model)):
            person = self.get_object(request, unquote(id))
            stored = self.model.objects.select_for_update().filter(pk=getattr(person, "pk", None))
            before = stored.values_list("password", flat=True).first()
            response = super().user_change_password(request, id, form_url)
            after = stored.values_list("password", flat=True).first()
            if person is not None and after != before:
                audit_record(
                    "portal.user.password_set"
                    if is_password_usable(after)
                    else "portal.user.password_disabled",
                    actor=request.user,
                    obj=person,
                    details={"via": "admin"},
                )
        return response

    def _deletion(self, person: User) -> tuple[int, dict]:
        return person.pk, {
            "pseudonym": person.pseudonym,
            "roles": sorted(person.roles),
            "deleted_with": _deleted_with(person),
            "via": "admin",
        }

    def _record_deletion(self, request, pk: int, details: dict) -> None:
        audit_record(
            "portal.user.deleted",
            actor=request.user,
            object_type="portal.user",
            object_id=pk,
            details=details,
        )

    def delete_model(self, request, obj):
        with transaction.atomic(using=router.db_for_write(self.model)):
            pk, details = self._deletion(obj)
            super().delete_model(request, obj)
            self._record_deletion(request, pk, details)

    def delete_queryset(self, request, queryset):
        """The changelist's bulk delete: one audit event per person deleted."""
        with transaction.atomic(using=router.db_for_write(self.model)):
            deletions = [self._deletion(person) for person in queryset]
            super().delete_queryset(request, queryset)
            for pk, details in deletions:
                self._record_deletion(request, pk, details)

    def save_formset(self, request, form, formset, change):
        if formset.model is RoleAssignment:
            instances = formset.save(commit=False)
            previous = dict(
                RoleAssignment.objects.filter(
                    pk__in=[i.pk for i in instances if i.pk is not None]
                ).values_list("pk", "role")
            )
            for assignment in instances:
                # A role changed in place is one role revoked and another granted.
                old_role = previous.get(assignment.pk)
                if old_role is not None and old_role != assignment.role:
                    assignment.granted_by = request.user
                    audit_record(
                        "portal.role.revoked",
                        actor=request.user,
                        obj=assignment.user,
                        details={"role": old_role, "via": "admin"},
                    )
            for deleted in formset.deleted_objects:
                audit_record(
                    "portal.role.revoked",
                    actor=request.user,
                    obj=deleted.user,
                    details={"role": deleted.role, "via": "admin"},
                )
                deleted.delete()
            for assignment in instances:
                if assignment.pk is None:
                    assignment.granted_by = request.user
                assignment.save()
                audit_record(
                    "portal.role.granted",
                    actor=request.user,
                    obj=assignment.user,
                    details={"role": assignment.role, "via": "admin"},
                )
            formset.save_m2m()
            return
        super().save_formset(request, form, formset, change)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    """Django's groups, with every creation, rename, permission change and deletion audited."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            audit_record(
                "portal.group.created",
                actor=request.user,
                obj=obj,
                details={"name": obj.name, "via": "admin"},
            )
        elif "name" in form.changed_data:
            audit_record(
                "portal.group.changed",
                actor=request.user,
                obj=obj,
                details={"name": obj.name, "previous_name": form.initial["name"], "via": "admin"},
            )

    def save_related(self, request, form, formsets, change):
        group = form.instance
        before = _permission_labels(group.permissions) if change else set()
        super().save_related(request, form, formsets, change)
        diff = _diff(before, _permission_labels(group.permissions))
        if diff["added"] or diff["removed"]:
            audit_record(
                "portal.group.permissions_changed",
                actor=request.user,
                obj=group,
                details={"name": group.name, **diff, "via": "admin"},
            )

    def _deletion(self, group: Group) -> tuple[int, dict]:
        return group.pk, {
            "name": group.name,
            "permissions": sorted(_permission_labels(group.permissions)),
            "members": sorted(group.user_set.values_list("pseudonym", flat=True)),
            "via": "admin",
        }

    def _record_deletion(self, request, pk: int, details: dict) -> None:
        audit_record(
            "portal.group.deleted",
            actor=request.user,
            object_type="auth.group",
            object_id=pk,
            details=details,
        )

    def delete_model(self, request, obj):
        with transaction.atomic(using=router.db_for_write(self.model)):
            pk, details = self._deletion(obj)
            super().delete_model(request, obj)
            self._record_deletion(request, pk, details)

    def delete_queryset(self, request, queryset):
        """The changelist's bulk delete: one audit event per group deleted."""
        with transaction.atomic(using=router.db_for_write(self.model)):
            deletions = [self._deletion(group) for group in queryset]
            super().delete_queryset(request, queryset)
            for pk, details in deletions:
                self._record_deletion(request, pk, details)


class AuditActionFilter(admin.SimpleListFilter):
    """Filter by action, each listed by its label (and code)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        return [(code, f"{audit_actions.label(code)} ({code})") for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit chain, read-only: nothing can be added, changed or deleted here."""

    list_display = ["seq", "created_at", "actor_label", "action_shown", "object_type", "object_id"]
    list_filter = [AuditActionFilter, "object_type", "created_at"]
    search_fields = ["action", "object_type", "object_id", "actor_label"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description=_("action"), ordering="action")
    def action_shown(self, event: AuditEvent):
        return format_html("{}<br><code>{}</code>", event.action_label, event.action)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
