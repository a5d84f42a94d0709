"""The public register's rows of the permission matrix (tests/test_permissions.py).

The register, its feed, its JSON-LD, its API and the page for citizens are public by design
(EHDS Art 57(1)(j) and Art 58): everyone, signed in or not, gets 200, and an application that
was never submitted is not in the register for anyone (404). The working pages behind it
follow the usual rules: the access body publishes decisions and extends results clocks; the
permit holder records the results.
"""

from tests.test_permissions import everyone, only

REGISTER_CASES = [
    ("access:register", None, "get", everyone(200)),
    ("access:register_feed", None, "get", everyone(200)),
    ("access:register_entry", "register_received", "get", everyone(200)),
    ("access:register_entry", "register_draft", "get", everyone(404)),
    ("access:register_entry_jsonld", "register_received", "get", everyone(200)),
    ("access:register_entry_jsonld", "register_draft", "get", everyone(404)),
    ("access:citizen_information", None, "get", everyone(200)),
    ("access_api:register", None, "get", everyone(200)),
    ("access_api:register_entry", "register_received", "get", everyone(200)),
    ("access_api:register_entry", "register_draft", "get", everyone(404)),
    ("access:decision_publish", "register_decided", "get", only("hdab_admin")),
    ("access:decision_publish", "register_decided", "post", only("hdab_admin")),  # no text
    ("access:permit_results", "page_permit", "get", only("researcher")),  # the holder
    ("access:permit_results", "page_permit", "post", only("researcher")),  # no summary
    ("access:results_extend", "page_permit", "get", only("hdab_admin")),
    ("access:results_extend", "page_permit", "post", only("hdab_admin")),  # no reason
]


def register_url_kwargs(access) -> dict:
    """``access``'s submitted application (in the register), its draft (not in it) and a
    decided application (the one the matrix's permit was issued on)."""
    from access.models import Application

    decided = Application.objects.filter(status__in=Application.DECIDED).order_by("pk").first()
    return {
        "register_received": {"pk": access.submitted.pk},
        "register_draft": {"pk": access.draft.pk},
        "register_decided": {"pk": decided.pk},
    }
