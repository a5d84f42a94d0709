"""Django admin for administrators. Changes made here go into the audit chain too."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from portal.audit import audit_record
from portal.models import AuditEvent, ExternalIdentity, RoleAssignment, User


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
        audit_record(
            "portal.user.changed" if change else "portal.user.created",
            actor=request.user,
            obj=obj,
            details={"fields": changed, "via": "admin"},
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is RoleAssignment:
            instances = formset.save(commit=False)
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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit chain, read-only: nothing can be added, changed or deleted here."""

    list_display = ["seq", "created_at", "actor_label", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type", "created_at"]
    search_fields = ["action", "object_type", "object_id", "actor_label"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
