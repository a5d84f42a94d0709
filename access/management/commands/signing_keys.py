"""``manage.py signing_keys create|rotate|retire|rewrap|list``: the keys that sign access tokens,
status lists and study maps (docs/tokens.md)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access import selectors, services
from access.models import SigningKey
from access.services import InvalidTransition


class Command(BaseCommand):
    help = (
        "Manage the keys that sign access tokens: create the first keys (or a next key), "
        "rotate (next becomes active, active retires), retire a key, re-encrypt them under a "
        "new SIGNING_KEK, or list them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser(
            "create", help="The first active and next keys; later, a next key if there is none."
        )
        create.add_argument("--alg", choices=SigningKey.Algorithm.values, default=None)
        rotate = actions.add_parser(
            "rotate", help="Next key becomes active, active key retires, a new next key is made."
        )
        rotate.add_argument("--alg", choices=SigningKey.Algorithm.values, default=None)
        retire = actions.add_parser(
            "retire", help="Retire the next key, or withdraw a retired one."
        )
        retire.add_argument("kid")
        retire.add_argument(
            "--at-once",
            action="store_true",
            help="Take a retired key out of the JWKS now (a key that may have leaked): what it "
            "signed stops verifying.",
        )
        actions.add_parser("rewrap", help="Encrypt the private keys under the current SIGNING_KEK.")
        actions.add_parser("list", help="Every key, and whether the JWKS lists it.")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        try:
            if action == "create":
                for key in services.signing_key_create(alg=_alg(options)):
                    self._say(f"created {key.status} key {key.kid} ({key.alg})")
            elif action == "rotate":
                self._rotate(_alg(options))
            elif action == "retire":
                key = services.signing_key_retire(
                    kid=str(options["kid"]), at_once=bool(options["at_once"])
                )
                until = f"{key.published_until:%Y-%m-%d %H:%M:%S %Z}"
                self._say(f"retired {key.kid}; published in the JWKS until {until}")
            elif action == "rewrap":
                count = services.signing_keys_rewrap()
                self._say(f"{count} private key(s) encrypted under the current SIGNING_KEK")
            else:
                self._list()
        except InvalidTransition as error:
            raise CommandError(str(error)) from None

    def _rotate(self, alg: str | None) -> None:
        self.stdout.write("rotating the signing keys…")
        rotation = services.signing_keys_rotate(alg=alg)
        if rotation.retired is not None:
            until = f"{rotation.retired.published_until:%Y-%m-%d %H:%M:%S %Z}"
            self.stdout.write(f"  retired {rotation.retired.kid} (in the JWKS until {until})")
        self.stdout.write(f"  activated {rotation.activated.kid} ({rotation.activated.alg})")
        self.stdout.write(f"  created next key {rotation.created.kid} ({rotation.created.alg})")
        self._say("rotation done: new tokens are signed with the activated key")

    def _list(self) -> None:
        published = {key.pk for key in selectors.published_signing_keys()}
        keys = SigningKey.objects.order_by("-created_at", "-pk")
        if not keys:
            self.stdout.write("no signing keys (create them with: manage.py signing_keys create)")
            return
        for key in keys:
            when = key.retired_at or key.activated_at or key.created_at
            shown = "in the JWKS" if key.pk in published else "not published"
            self.stdout.write(
                f"{key.kid}  {key.alg:<8} {key.status:<8} "
                f"{timezone.localtime(when):%Y-%m-%d %H:%M}  {shown}"
            )

    def _say(self, text: str) -> None:
        self.stdout.write(self.style.SUCCESS(text))


def _alg(options: dict[str, object]) -> str | None:
    value = options.get("alg")
    return str(value) if value else None
