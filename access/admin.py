"""Read-mostly admin views of the access workflow. Changes to applications, reviews and
permits go through the portal's pages (the services); the admin shows them for support."""

from django.contrib import admin

from access.models import Application, Committee, Permit


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Committee)
class CommitteeAdmin(ReadOnlyAdmin):
    list_display = ["name", "decision_rule", "email"]
    search_fields = ["name"]


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "title", "status", "submitted_at", "decision_due", "extended"]
    list_filter = ["status", "purpose", "extended"]
    search_fields = ["title", "organisation"]
    date_hierarchy = "submitted_at"


@admin.register(Permit)
class PermitAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "starts_on", "ends_on", "purpose"]
    list_filter = ["status", "purpose"]
    search_fields = ["number"]
