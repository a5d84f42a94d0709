"""Load demo people (one per role), then each app's demo data (``portal.demo``), and print
their logins. Development only; safe to re-run."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.audit import audit_record
from portal.demo import demo_loaders
from portal.models import Role, User
from portal.services import role_grant, user_create

# (username, roles, first name, last name, organisation, staff)
DEMO_PEOPLE = [
    ("citizen", [Role.CITIZEN], "Chiara", "Donati", "", False),
    ("researcher", [Role.RESEARCHER], "Rui", "Esteves", "Instituto de Oncologia", False),
    ("committee", [Role.COMMITTEE_MEMBER], "Katrin", "Maier", "Data access committee", False),
    ("operator", [Role.NODE_OPERATOR], "Olav", "Nilsen", "Oslo imaging node", False),
    ("hdab", [Role.HDAB_ADMIN], "Helena", "Dufour", "Health data access body", True),
]


def demo_password(username: str) -> str:
    return f"demo-{username}-pass"


class Command(BaseCommand):
    help = "Create one demo person per role (development only) and print their logins."

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("demo_data refuses to run with PORTAL_MODE=production")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins (development only):"))
        people = {}
        for username, roles, first, last, org, staff in DEMO_PEOPLE:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    username=username,
                    email=f"{username}@example.org",
                    password=demo_password(username),
                    first_name=first,
                    last_name=last,
                    organisation=org,
                    roles=roles,
                    via="demo",
                )
            for role in roles:
                role_grant(user=user, role=role)
            if staff and not (user.is_staff and user.is_superuser):
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
                audit_record(
                    "portal.user.changed",
                    obj=user,
                    details={"fields": ["is_staff", "is_superuser"], "via": "demo"},
                )
            people[username] = user
            labels = ", ".join(str(Role(r).label) for r in roles)
            self.stdout.write(
                f"  {labels:<28} username {username:<11} password {demo_password(username)}"
            )
        for loader in demo_loaders():
            message = loader(people)
            if message:
                self.stdout.write(message)
        self.stdout.write("Open http://127.0.0.1:8000/ and log in with any of them.")
