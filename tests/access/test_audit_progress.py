"""verify_audit_chain shows its progress on stderr while it walks a long chain."""

import io

from django.core.management import call_command

from portal.audit import audit_record
from portal.models import AuditEvent


def test_it_writes_progress_to_stderr(db):
    for n in range(5):
        audit_record("test.bulk", details={"n": n})
    total = AuditEvent.objects.count()
    out, err = io.StringIO(), io.StringIO()

    call_command("verify_audit_chain", "--progress-every", "2", stdout=out, stderr=err)

    assert f"checked 2 of {total} events" in err.getvalue()
    assert f"checked 4 of {total} events" in err.getvalue()
    assert "Audit chain intact" in out.getvalue()
