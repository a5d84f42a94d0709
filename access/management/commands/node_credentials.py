"""``manage.py node_credentials secret|key|list``: how a node authenticates to the portal and
signs its access reports (docs/tokens.md)."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from access import services
from access.models import NodeCredential
from access.services import InvalidTransition
from catalogue.models import Node


class Command(BaseCommand):
    help = (
        "Node credentials: make a node's secret (shown once; its client id is its audience), "
        "register the public key it signs access reports with, or list them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        secret = actions.add_parser(
            "secret", help="A new secret for the node (the old one stops working at once)."
        )
        secret.add_argument("node", help="The node's slug or audience.")
        key = actions.add_parser("key", help="Register the node's public report-signing key.")
        key.add_argument("node", help="The node's slug or audience.")
        key.add_argument("jwk", help="A file holding the public JWK (JSON), or - for stdin.")
        actions.add_parser("list", help="Every node and what it has.")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        if action == "list":
            self._list()
            return
        node = _node(str(options["node"]))
        try:
            if action == "secret":
                secret = services.node_secret_issue(node=node)
                self.stdout.write(f"client id: {node.audience}")
                self.stdout.write(f"secret:    {secret}")
                self.stdout.write(
                    self.style.WARNING(
                        "The secret is shown only now: give it to the node's operators (the "
                        "gatekeeper's configuration) over a safe channel."
                    )
                )
            else:
                jwk = _read_jwk(str(options["jwk"]))
                credential = services.node_key_register(node=node, jwk=jwk)
                kid = (credential.public_jwk or {}).get("kid")
                self.stdout.write(self.style.SUCCESS(f"registered key {kid} for {node.audience}"))
        except InvalidTransition as error:
            raise CommandError(str(error)) from None

    def _list(self) -> None:
        credentials = {c.node_id: c for c in NodeCredential.objects.all()}
        for node in Node.objects.order_by("name"):
            credential = credentials.get(node.pk)
            secret = "secret set" if credential and credential.secret_hash else "no secret"
            key = (credential.public_jwk or {}).get("kid") if credential else None
            self.stdout.write(
                f"{node.slug:<20} {node.audience:<40} {secret:<10} "
                f"{'key ' + key if key else 'no report key'}"
            )


def _node(name: str) -> Node:
    node = Node.objects.filter(Q(slug=name) | Q(audience=name)).first()
    if node is None:
        raise CommandError(f"There is no node {name!r} (give its slug or its audience).")
    return node


def _read_jwk(source: str) -> dict[str, object]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        value = json.loads(text)
    except (OSError, ValueError) as error:
        raise CommandError(f"cannot read a JWK from {source}: {error}") from None
    if not isinstance(value, dict):
        raise CommandError("the JWK must be a JSON object")
    return value
