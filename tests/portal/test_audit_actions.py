"""Every action of the audit chain is registered with a plain, translatable label: the chain
refuses a code nobody registered, and the pages show the label beside the code."""

import ast
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.functional import Promise

from portal import audit_actions
from portal.audit import audit_record, verify_chain
from portal.audit_actions import AuditAction, UnknownAuditAction
from portal.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "catalogue", "access", "consent")
# A string shaped like an action code: the app's namespace, then at least two dotted words.
CODE_SHAPE = re.compile(rf"^({'|'.join(APPS)})(\.[a-z][a-z0-9_]*){{2,}}$")


def _recording_modules() -> list[Path]:
    """The apps' modules that write to the audit chain (directly or through a helper)."""
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        and path.name != "audit_actions.py"
        and ("audit_record" in (text := path.read_text()) or "_record(" in text)
    ]


def _called_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _action_arg(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "action"), None)


def _imported_names(tree: ast.AST) -> set[str]:
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def _recorders(modules: dict[Path, ast.AST]) -> dict[Path, set[str]]:
    """For each module, the names it records with: ``audit_record``, and the helpers that pass
    their own parameter on to it as the action (``_record`` in access, ``_write`` in the login
    throttle), defined in the module or imported from another one."""
    imported = {path: _imported_names(tree) for path, tree in modules.items()}
    helpers: dict[Path, set[str]] = {path: set() for path in modules}
    grew = True
    while grew:
        grew = False
        every_helper = set().union(*helpers.values())
        for path, tree in modules.items():
            known = {"audit_record"} | helpers[path] | (imported[path] & every_helper)
            for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
                if function.name in helpers[path]:
                    continue
                params = {a.arg for a in (*function.args.args, *function.args.kwonlyargs)}
                for call in ast.walk(function):
                    if not (isinstance(call, ast.Call) and _called_name(call) in known):
                        continue
                    action = _action_arg(call)
                    if isinstance(action, ast.Name) and action.id in params:
                        helpers[path].add(function.name)
                        grew = True
                        break
    every_helper = set().union(*helpers.values())
    return {
        path: {"audit_record"} | helpers[path] | (imported[path] & every_helper) for path in modules
    }


def _codes_in_code_base() -> tuple[dict[str, str], list[str]]:
    """Every action code written in the apps' recording modules (where it is written), and
    every action built at run time (an f-string, ``%``, ``+``, ``.format`` or ``.join``), which
    the registry cannot check."""
    modules = {path: ast.parse(path.read_text()) for path in _recording_modules()}
    recorders = _recorders(modules)
    codes: dict[str, str] = {}
    built: list[str] = []
    for path, tree in modules.items():
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE_SHAPE.match(node.value)
            ):
                codes.setdefault(node.value, f"{where}:{node.lineno}")
            if not (isinstance(node, ast.Call) and _called_name(node) in recorders[path]):
                continue
            action = _action_arg(node)
            if isinstance(action, ast.Constant) and isinstance(action.value, str):
                codes.setdefault(action.value, f"{where}:{node.lineno}")
            is_format = isinstance(action, ast.Call) and _called_name(action) in {"format", "join"}
            if isinstance(action, ast.JoinedStr | ast.BinOp) or is_format:
                built.append(f"{where}:{node.lineno}: {ast.unparse(action)}")
    return codes, built


def test_every_action_the_code_base_records_is_registered_with_a_label():
    codes, built = _codes_in_code_base()
    assert not built, f"build action codes from a table of literal codes, not at run time: {built}"
    # The walk finds the codes of every app (it would find nothing if it were broken).
    for app in ("portal", "catalogue", "access"):
        assert sum(code.startswith(f"{app}.") for code in codes) >= 8, app
    unregistered = {
        code: where for code, where in codes.items() if not audit_actions.is_registered(code)
    }
    assert not unregistered, (
        "register these actions, with a label, in the audit_actions module of their app: "
        f"{unregistered}"
    )


def test_the_walk_catches_an_unregistered_code_and_a_built_one(tmp_path, monkeypatch):
    """The walk above sees a new code in a service, and a code built with an f-string, also
    when the helper that records is defined in another module."""
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "catalogue" / "common.py").write_text(
        "from portal.audit import audit_record\n"
        "def _record(action, obj):\n"
        "    audit_record(action, obj=obj)\n"
    )
    (tmp_path / "catalogue" / "extra.py").write_text(
        "from catalogue.common import _record\n"
        "def f(obj, outcome):\n"
        "    _record('catalogue.thing.vanished', obj)\n"
        "    _record(f'catalogue.thing.{outcome}', obj)\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    codes, built = _codes_in_code_base()
    assert codes == {"catalogue.thing.vanished": "catalogue/extra.py:3"}
    assert not audit_actions.is_registered("catalogue.thing.vanished")
    assert built == ["catalogue/extra.py:4: f'catalogue.thing.{outcome}'"]


def test_the_chain_refuses_an_unregistered_action_and_writes_nothing(db):
    audit_record("test.thing.created", object_type="test.thing", object_id=1)
    with pytest.raises(UnknownAuditAction, match=re.escape("access.permit.misplaced")):
        audit_record("access.permit.misplaced", object_type="access.permit", object_id=1)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.thing.created"]
    assert verify_chain().ok


def test_a_code_cannot_get_a_second_meaning():
    with pytest.raises(ValueError, match="already registered"):
        audit_actions.register(AuditAction("access.permit.revoked", "A permit was renewed"))
    assert str(audit_actions.label("access.permit.revoked")) == "A data permit was revoked"


def test_the_apps_labels_are_translatable_sentences():
    actions = [a for a in audit_actions.registered() if not a.code.startswith("test.")]
    assert len(actions) >= 60
    for action in actions:
        assert isinstance(action.label, Promise), action.code  # gettext_lazy
        text = str(action.label)
        assert text[0].isupper() and not text.endswith(".") and action.code not in text


def test_the_decisions_record_the_codes_of_their_outcomes():
    """The outcome of a review or an application picks a registered code from a table."""
    from access.audit_actions import APPLICATION_DECIDED, REVIEW_DECIDED
    from access.models import Application, Review

    assert REVIEW_DECIDED[Review.Status.APPROVED] == "access.review.approved"
    assert REVIEW_DECIDED["rejected"] == "access.review.rejected"
    assert APPLICATION_DECIDED["partially_approved"] == "access.application.partially_approved"
    assert set(APPLICATION_DECIDED) == {
        Application.Status.APPROVED,
        Application.Status.PARTIALLY_APPROVED,
        Application.Status.REJECTED,
    }
    for code in (*REVIEW_DECIDED.values(), *APPLICATION_DECIDED.values()):
        assert audit_actions.is_registered(code), code


def test_the_audit_page_shows_the_label_beside_the_code(client_for, personas):
    audit_record("access.permit.revoked", actor=personas["hdab_admin"])
    page = client_for("hdab_admin").get(reverse("audit_log")).content.decode()
    assert "A data permit was revoked" in page
    assert '<code class="action">access.permit.revoked</code>' in page


def test_the_access_body_dashboard_shows_labels_too(client_for, personas):
    audit_record("catalogue.dataset.published", actor=personas["node_operator"])
    page = client_for("hdab_admin").get(reverse("role_dashboard", args=["hdab"])).content.decode()
    assert "A dataset was published in the catalogue" in page
    assert "catalogue.dataset.published" in page


def test_the_admin_lists_and_filters_events_by_label(client_for, personas):
    audit_record("catalogue.basket.added", actor=personas["researcher"])
    client = client_for("hdab_admin")
    url = reverse("admin:portal_auditevent_changelist")
    page = client.get(url).content.decode()
    assert "A researcher put a dataset in their basket" in page
    assert "A researcher put a dataset in their basket (catalogue.basket.added)" in page
    filtered = client.get(url, {"action": "catalogue.basket.added"})
    assert [e.action for e in filtered.context["cl"].result_list] == ["catalogue.basket.added"]
