"""Changes made in the Django admin go into the audit chain: people deleted, passwords set or
changed, roles, groups and permissions. The access body never reads a draft application there.

Each test drives the real admin pages with the test client, as the access-body administrator
(a Django superuser), and reads the event back from the chain.
"""

import json

import pytest
from django.contrib.auth.models import Group, Permission

from portal.audit import verify_chain
from portal.models import AuditEvent, RoleAssignment, User
from tests.factories import PASSWORD

NEW_PASSWORD = "a fresh admin passphrase 2026"


@pytest.fixture
def admin_client(client_for):
    return client_for("hdab_admin")


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _only_event(action: str) -> AuditEvent:
    events = _events(action)
    assert len(events) == 1, [e.action for e in AuditEvent.objects.order_by("seq")]
    return events[0]


def _assert_no_secrets(event: AuditEvent, *secrets: str) -> None:
    text = json.dumps(event.details)
    for secret in secrets:
        assert secret not in text
    assert "md5$" not in text and "pbkdf2" not in text  # no password hash either


def _bound_value(bound):
    value = bound.value()
    if isinstance(value, list | tuple):
        return [str(getattr(v, "pk", v)) for v in value]
    if isinstance(value, bool):
        return "on" if value else None
    if value is None:
        return None
    return str(getattr(value, "pk", value))


def _form_data(response) -> dict:
    """The POST data of an admin change page as the browser would send it unchanged: the
    main form's and every inline form's current values, with the management forms."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.extend(formset.forms)
        management = formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    for form in forms:
        for name in form.fields:
            if form.fields[name].disabled:
                continue
            value = _bound_value(form[name])
            if value is not None:
                data[form.add_prefix(name)] = value
    return data


def _change_person(admin_client, person: User, **changes) -> None:
    url = f"/admin/portal/user/{person.pk}/change/"
    data = {**_form_data(admin_client.get(url)), **changes}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors


# People deleted ---------------------------------------------------------------------------


def test_it_records_deleting_a_person(admin_client, personas):
    person = personas["citizen"]
    pk, pseudonym = person.pk, person.pseudonym
    response = admin_client.post(f"/admin/portal/user/{pk}/delete/", {"post": "yes"})

    assert response.status_code == 302 and not User.objects.filter(pk=pk).exists()
    event = _only_event("portal.user.deleted")
    assert (event.actor, event.object_type, event.object_id) == (
        personas["hdab_admin"], "portal.user", str(pk)
    )  # fmt: skip
    assert event.details == {
        "pseudonym": pseudonym,
        "roles": ["citizen"],
        "deleted_with": {"portal.roleassignment": 1},
        "via": "admin",
    }
    _assert_no_secrets(event, "citizen@example.org", person.password)
    assert verify_chain().ok


def test_it_records_each_person_deleted_in_bulk(admin_client, personas):
    people = [personas["citizen"], personas["outsider"]]
    response = admin_client.post(
        "/admin/portal/user/",
        {"action": "delete_selected", "_selected_action": [p.pk for p in people], "post": "yes"},
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[p.pk for p in people]).exists()
    events = _events("portal.user.deleted")
    assert sorted((e.object_id, e.details["pseudonym"]) for e in events) == sorted(
        (str(p.pk), p.pseudonym) for p in people
    )
    assert {e.actor for e in events} == {personas["hdab_admin"]}


# Passwords --------------------------------------------------------------------------------


def test_it_records_an_administrator_setting_someones_password(admin_client, personas):
    person = personas["researcher"]
    response = admin_client.post(
        f"/admin/portal/user/{person.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    event = _only_event("portal.user.password_set")
    assert (event.actor, event.object_type, event.object_id) == (
        personas["hdab_admin"], "portal.user", str(person.pk)
    )  # fmt: skip
    assert event.details == {"via": "admin"}
    _assert_no_secrets(event, NEW_PASSWORD, person.password)


def test_it_records_an_administrator_disabling_someones_password(admin_client, personas):
    person = personas["researcher"]
    response = admin_client.post(
        f"/admin/portal/user/{person.pk}/password/",
        {"usable_password": "false", "unset-password": "1"},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert not person.has_usable_password()
    event = _only_event("portal.user.password_disabled")
    assert (event.actor, event.object_id) == (personas["hdab_admin"], str(person.pk))


def test_it_records_nothing_when_the_new_password_is_refused(admin_client, personas):
    person = personas["researcher"]
    response = admin_client.post(
        f"/admin/portal/user/{person.pk}/password/",
        {"usable_password": "true", "password1": NEW_PASSWORD, "password2": "different"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert not _events("portal.user.password_set")


def test_it_records_changing_ones_own_password_in_the_admin(admin_client, personas):
    admin_user = personas["hdab_admin"]
    response = admin_client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.check_password(NEW_PASSWORD)
    event = _only_event("portal.user.password_changed")
    assert (event.actor, event.object_type, event.object_id) == (
        admin_user, "portal.user", str(admin_user.pk)
    )  # fmt: skip
    assert event.details == {"via": "admin"}
    _assert_no_secrets(event, NEW_PASSWORD, PASSWORD, admin_user.password)


# Groups, permissions and roles of a person ------------------------------------------------


def test_it_records_groups_and_permissions_given_to_and_taken_from_a_person(admin_client, personas):
    person = personas["researcher"]
    support = Group.objects.create(name="Support desk")
    view_permits = Permission.objects.get(codename="view_permit")

    _change_person(
        admin_client, person, groups=[str(support.pk)], user_permissions=[str(view_permits.pk)]
    )
    groups = _only_event("portal.user.groups_changed")
    permissions = _only_event("portal.user.permissions_changed")
    assert (groups.actor, groups.object_id) == (personas["hdab_admin"], str(person.pk))
    assert groups.details == {"added": ["Support desk"], "removed": [], "via": "admin"}
    assert permissions.details == {"added": ["access.view_permit"], "removed": [], "via": "admin"}

    _change_person(admin_client, person, groups=[], user_permissions=[])
    groups, permissions = (
        _events("portal.user.groups_changed")[-1],
        _events("portal.user.permissions_changed")[-1],
    )
    assert groups.details == {"added": [], "removed": ["Support desk"], "via": "admin"}
    assert permissions.details == {"added": [], "removed": ["access.view_permit"], "via": "admin"}
    assert verify_chain().ok


def test_it_records_the_new_value_of_a_privilege_flag(admin_client, personas):
    person = personas["researcher"]
    _change_person(admin_client, person, is_staff="on", is_superuser="on")

    event = _events("portal.user.changed")[-1]
    assert event.details["values"] == {"is_staff": True, "is_superuser": True}


def test_it_records_a_role_changed_in_place_as_revoked_and_granted(admin_client, personas):
    person = personas["citizen"]
    url = f"/admin/portal/user/{person.pk}/change/"
    data = _form_data(admin_client.get(url))
    data["role_assignments-0-role"] = "hdab_admin"
    assert admin_client.post(url, data).status_code == 302

    assert list(person.role_assignments.values_list("role", flat=True)) == ["hdab_admin"]
    revoked, granted = _only_event("portal.role.revoked"), _only_event("portal.role.granted")
    assert revoked.details == {"role": "citizen", "via": "admin"}
    assert granted.details == {"role": "hdab_admin", "via": "admin"}
    assert revoked.object_id == granted.object_id == str(person.pk)
    assert RoleAssignment.objects.get(user=person).granted_by == personas["hdab_admin"]


# Groups and their permissions ------------------------------------------------------------


def test_it_records_a_group_created_changed_and_deleted(admin_client, personas):
    view_permits, view_apps = (
        Permission.objects.get(codename="view_permit"),
        Permission.objects.get(codename="view_application"),
    )
    response = admin_client.post(
        "/admin/auth/group/add/", {"name": "Auditors", "permissions": [view_permits.pk]}
    )
    assert response.status_code == 302
    group = Group.objects.get(name="Auditors")
    created = _only_event("portal.group.created")
    assert (created.actor, created.object_type, created.object_id) == (
        personas["hdab_admin"], "auth.group", str(group.pk)
    )  # fmt: skip
    assert created.details == {"name": "Auditors", "via": "admin"}
    assert _only_event("portal.group.permissions_changed").details == {
        "name": "Auditors", "added": ["access.view_permit"], "removed": [], "via": "admin"
    }  # fmt: skip

    response = admin_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "Internal auditors", "permissions": [view_apps.pk]},
    )
    assert response.status_code == 302
    assert _only_event("portal.group.changed").details == {
        "name": "Internal auditors", "previous_name": "Auditors", "via": "admin"
    }  # fmt: skip
    assert _events("portal.group.permissions_changed")[-1].details == {
        "name": "Internal auditors",
        "added": ["access.view_application"],
        "removed": ["access.view_permit"],
        "via": "admin",
    }

    personas["researcher"].groups.add(group)
    response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Group.objects.filter(pk=group.pk).exists()
    deleted = _only_event("portal.group.deleted")
    assert (deleted.actor, deleted.object_id) == (personas["hdab_admin"], str(group.pk))
    assert deleted.details == {
        "name": "Internal auditors",
        "permissions": ["access.view_application"],
        "members": [personas["researcher"].pseudonym],
        "via": "admin",
    }
    assert verify_chain().ok


def test_it_records_each_group_deleted_in_bulk(admin_client, personas):
    groups = [Group.objects.create(name="One"), Group.objects.create(name="Two")]
    response = admin_client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )

    assert response.status_code == 302 and not Group.objects.exists()
    assert sorted(e.details["name"] for e in _events("portal.group.deleted")) == ["One", "Two"]


# Draft applications -----------------------------------------------------------------------


def test_it_never_shows_a_draft_application_in_the_admin(admin_client, access):
    listing = admin_client.get("/admin/access/application/").content.decode()
    assert access.submitted.title in listing
    assert access.draft.title not in listing

    searched = admin_client.get("/admin/access/application/", {"q": "Draft"}).content.decode()
    assert access.draft.title not in searched

    for page in ("change", "history"):
        response = admin_client.get(f"/admin/access/application/{access.draft.pk}/{page}/")
        assert response.status_code == 302  # the admin's "does not exist" answer
        assert access.draft.title not in admin_client.get(response.url).content.decode()
    submitted = admin_client.get(f"/admin/access/application/{access.submitted.pk}/change/")
    assert submitted.status_code == 200
