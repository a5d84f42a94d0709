"""Link a single sign-on identity to a person, as an administrator. Recorded in the audit chain."""

from django.core.management.base import BaseCommand, CommandError

from portal.models import User
from portal.oidc_accounts import IdentityLinkRefused, identity_link


class Command(BaseCommand):
    help = (
        "Link an OpenID Connect identity (issuer and subject) to a person. This is how an "
        "administrator links a privileged account, which is never linked by email."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the person's portal user name")
        parser.add_argument("issuer", help="the provider's issuer URL, as in its ID tokens")
        parser.add_argument("subject", help="the person's subject (sub) at that issuer")
        parser.add_argument(
            "--by", required=True, help="user name of the administrator doing it (audited)"
        )

    def handle(self, *args, username, issuer, subject, by, **options):
        try:
            person = User.objects.get_by_natural_key(username)
            admin = User.objects.get_by_natural_key(by)
        except User.DoesNotExist as exc:
            raise CommandError(f"No such person: {exc}") from exc
        if not (admin.is_active and admin.is_superuser):
            raise CommandError(f"{admin.username} is not an active superuser")
        try:
            identity_link(user=person, issuer=issuer, subject=subject, actor=admin, via="admin")
        except IdentityLinkRefused as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Linked {subject} at {issuer} to {person.username}.")
