"""Connecting a node to the portal, for its operators and the access body: the node's client
id, its secret (made here and shown once; only its hash is kept), the public key it signs its
access reports with, and the ``[portal]`` and ``[node]`` sections of its gatekeeper's
configuration, filled in. Anyone else gets 404."""

import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access import selectors, services
from access.models import InvalidTransition, NodeCredential
from catalogue.models import Node
from portal.models import Role
from portal.permissions import role_required

CONNECTING_ROLES = (Role.NODE_OPERATOR, Role.HDAB_ADMIN)
MAX_JWK_CHARS = 4096


class NewSecretForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that the current secret stops working at once"),
        error_messages={"required": gettext_lazy("Tick the box to make a new secret.")},
    )


class ReportKeyForm(forms.Form):
    jwk = forms.CharField(
        label=gettext_lazy("The node's public report-signing key (JWK)"),
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        max_length=MAX_JWK_CHARS,
        help_text=gettext_lazy(
            "What python3 -m access.node.gatekeeper new-key printed: a JSON object without "
            'its private part (no "d").'
        ),
        error_messages={"required": gettext_lazy("Paste the node's public key.")},
    )

    def clean_jwk(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["jwk"])
        except ValueError:
            raise forms.ValidationError(_("This is not JSON: paste the key as printed.")) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("A key is a JSON object ({…})."))
        return value


def _credential(node: Node) -> NodeCredential | None:
    try:
        return node.credential
    except NodeCredential.DoesNotExist:
        return None


def gatekeeper_sections(node: Node) -> str:
    """The ``[portal]`` and ``[node]`` sections of the node's ``gatekeeper.toml``."""
    site = settings.SITE_URL

    def url(name: str, **kwargs: Any) -> str:
        return site + reverse(name, kwargs=kwargs or None)

    lines = [
        "[portal]",
        f'issuer = "{site}"',
        f'jwks_url = "{url("jwks")}"',
        f'study_map_url = "{url("access:study_map", audience=node.audience)}"',
        f'reports_url = "{url("access:node_reports")}"',
        f'exclusions_url = "{url("access:exclusions", audience=node.audience)}"',
        "",
        "[node]",
        f'audience = "{node.audience}"',
        'client_secret_file = "/etc/ecii-gatekeeper/client-secret"',
        'signing_key_file = "/etc/ecii-gatekeeper/report-key.jwk"',
    ]
    return "\n".join(lines)


@role_required(*CONNECTING_ROLES)
def node_connection_list(request: HttpRequest) -> HttpResponse:
    """The nodes whose connection the person manages, with what each has."""
    nodes = selectors.connectable_nodes(request.user).select_related("credential").order_by("name")
    return render(
        request,
        "access/node_connection_list.html",
        {"rows": [(node, _credential(node)) for node in nodes]},
    )


@role_required(*CONNECTING_ROLES)
def node_connection(request: HttpRequest, pk: int) -> HttpResponse:
    """One node's connection. POST ``action=secret`` makes a new secret (shown on this answer
    only); ``action=key`` registers the node's public report-signing key."""
    node = selectors.access_node_connection(request.user, pk)
    action = request.POST.get("action") if request.method == "POST" else None
    secret_form = NewSecretForm(request.POST if action == "secret" else None, auto_id="secret-%s")
    key_form = ReportKeyForm(request.POST if action == "key" else None, auto_id="key-%s")
    new_secret = None
    if action == "secret" and secret_form.is_valid():
        new_secret = services.node_secret_issue(node=node, actor=request.user)
        secret_form = NewSecretForm(auto_id="secret-%s")
    elif action == "key" and key_form.is_valid():
        try:
            services.node_key_register(
                node=node, jwk=key_form.cleaned_data["jwk"], actor=request.user
            )
        except InvalidTransition as error:
            key_form.add_error("jwk", str(error))
        else:
            messages.success(request, _("The node's report-signing key is registered."))
            return redirect("access:node_connection", pk=node.pk)
    response = render(
        request,
        "access/node_connection.html",
        {
            "node": node,
            "credential": NodeCredential.objects.filter(node=node).first(),
            "secret_form": secret_form,
            "key_form": key_form,
            "new_secret": new_secret,
            "configuration": gatekeeper_sections(node),
        },
    )
    if new_secret:
        response["Cache-Control"] = "no-store"  # the only copy of the secret: keep it out of caches
    return response
