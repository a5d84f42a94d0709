"""From a permit to the images: a person the permit authorises chooses a node and gets an access
token, shown once with what to do with it; tokens can be revoked from the permit page."""

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from access import selectors, services
from access.models import AccessToken, InvalidTransition, Permit
from access.permissions import may_change_permit, may_issue_token
from access.selectors import TokenNode
from portal.forms import show_refusal
from portal.models import User
from portal.workflow import NotPermitted

ENDED_TOKENS = 20  # the permit page lists every live token, and this many of the ended ones
LIVE_TOKENS = 500  # ...up to this many live ones (more are counted, and revoked by the API)


class TokenForm(forms.Form):
    """Which node the token is for: only nodes holding datasets the permit grants."""

    node = forms.TypedChoiceField(
        label=gettext_lazy("Node"),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("A token opens one node's images: the datasets listed with it."),
        error_messages={"required": gettext_lazy("Choose the node.")},
    )

    def __init__(self, *args: object, nodes: list[TokenNode], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["node"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [
            (
                entry.node.pk,
                f"{entry.node.name} ({entry.node.country}): "
                + ", ".join(d.title for d in entry.datasets),
            )
            for entry in nodes
        ]
        if len(nodes) == 1:
            field.initial = nodes[0].node.pk


class RevokeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=500)


def token_refusal(user: User, permit: Permit, nodes: list[TokenNode]) -> str:
    """Why ``user`` cannot get a token under ``permit`` now, in plain words ("" if they can)."""
    if not nodes:
        return _("Permit %s grants no dataset held at a node.") % permit.number
    try:
        services.check_issue(permit, nodes[0].node, user, timezone.localdate())
    except (InvalidTransition, NotPermitted) as error:
        return str(error)
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


def token_context(
    request: HttpRequest,
    permit: Permit,
    *,
    form: TokenForm | None = None,
    refusal: str = "",
) -> dict[str, object]:
    """What the permit page shows about tokens: the form (to those the permit authorises),
    why none can be issued now (or ``refusal``), and the tokens the person may see: every live
    one, and the newest that have ended."""
    user = request.user
    assert isinstance(user, User)
    authorised = may_issue_token(user, permit)
    nodes = selectors.token_nodes(permit) if authorised else []
    refusal = refusal or (token_refusal(user, permit, nodes) if authorised else "")
    if authorised and not refusal and form is None:
        form = TokenForm(nodes=nodes, auto_id="token-%s")
    now = timezone.now()
    # Every token still usable is listed, so that whoever revokes them after a leak misses
    # none; of the ended ones only the newest, the others counted.
    visible = selectors.permit_tokens(user, permit)
    live_now = Q(revoked_at__isnull=True, expires_at__gt=now)
    live = list(visible.filter(live_now)[: LIVE_TOKENS + 1])
    ended = list(visible.exclude(live_now)[: ENDED_TOKENS + 1])
    tokens = live[:LIVE_TOKENS] + ended[:ENDED_TOKENS]
    more_live = visible.filter(live_now).count() - LIVE_TOKENS if len(live) > LIVE_TOKENS else 0
    more_ended = (
        visible.exclude(live_now).count() - ENDED_TOKENS if len(ended) > ENDED_TOKENS else 0
    )
    # Whoever may revoke any token of the permit (one check, not one per token).
    revokes_all = user.pk == permit.holder_id or may_change_permit(user, permit)
    return {
        "token_form": form if authorised and not refusal else None,
        "token_refusal": refusal,
        "tokens": [
            (
                token,
                _token_state(token, now),
                _live(token, now) and (revokes_all or token.holder_id == user.pk),
            )
            for token in tokens
        ],
        "sees_all_tokens": any(t.holder_id != user.pk for t in tokens),
        "more_live_tokens": more_live,
        "more_ended_tokens": more_ended,
    }


def _live(token: AccessToken, now: datetime) -> bool:
    return token.revoked_at is None and token.expires_at > now


def _token_state(token: AccessToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return _("Revoked")
    if token.expires_at <= now:
        return _("Expired")
    return str(AccessToken.Status(token.status).label)


@require_POST
@login_required
def token_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a token for the chosen node and show it, once, with how to use it. A refusal is
    shown on the permit page with its reason."""
    from access.views.permits import render_permit

    user = request.user
    assert isinstance(user, User)
    permit = selectors.permit_for_token(user, pk)
    nodes = selectors.token_nodes(permit)
    form = TokenForm(request.POST, nodes=nodes, auto_id="token-%s")
    if not may_issue_token(user, permit):
        refusal = _("Tokens under permit %s are issued only to the people it authorises.")
        return render_permit(request, permit, token_refusal=refusal % permit.number, status=403)
    if form.is_valid():
        node = next(n.node for n in nodes if n.node.pk == form.cleaned_data["node"])
        try:
            issued = services.token_issue(permit=permit, node=node, actor=user)
        except (InvalidTransition, NotPermitted, services.SigningUnavailable) as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            show_refusal(form, error)
        else:
            response = render(
                request,
                "access/token_issued.html",
                {
                    "permit": permit,
                    "node": node,
                    "issued": issued,
                    "datasets": next(n.datasets for n in nodes if n.node.pk == node.pk),
                    "lifetime_minutes": (issued.claims.exp - issued.claims.iat) // 60,
                    "status_list_ttl": settings.STATUS_LIST_TTL,
                    "status_list_most": 2 * settings.STATUS_LIST_TTL,
                },
            )
            # Shown once: no cache may keep it, and the browser's back button does not show it.
            response["Cache-Control"] = "no-store"
            return response
    return render_permit(request, permit, token_form=form)


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke a token at once: nodes refuse it within the status list's time to live."""
    user = request.user
    assert isinstance(user, User)
    token = selectors.access_token(user, pk, for_write=True)
    form = RevokeForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.token_revoke(token=token, actor=user, reason=reason)
    except (InvalidTransition, NotPermitted) as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            _("The token for %(node)s issued %(when)s was revoked; nodes refuse it within "
              "%(ttl)s seconds (%(most)s where a shared cache sits between a node and the "
              "portal).")
            % {
                "node": token.node.name,
                "when": f"{timezone.localtime(token.issued_at):%Y-%m-%d %H:%M}",
                "ttl": settings.STATUS_LIST_TTL,
                "most": 2 * settings.STATUS_LIST_TTL,
            },
        )  # fmt: skip
    return redirect("access:permit_detail", token.permit_id)
