"""Read-only admin views of the access workflow. Changes to applications, reviews and
permits go through the portal's pages (the services); the admin shows them for support.

The admin shows no more than the pages show the access body: a researcher's application in
draft is theirs alone until they submit it, so the admin leaves drafts out everywhere (list,
search, detail and history), as the pages and the API answer 404 for them.
"""

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

    def get_queryset(self, request):
        """Every application except drafts, which only their applicant may read."""
        return super().get_queryset(request).exclude(status=Application.Status.DRAFT)


@admin.register(Permit)
class PermitAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "starts_on", "ends_on", "purpose"]
    list_filter = ["status", "purpose"]
    search_fields = ["number"]
