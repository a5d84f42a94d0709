"""Audit actions that only the tests record (the chain's own tests write made-up events)."""

from portal.audit_actions import AuditAction, register

register(
    AuditAction("test.thing.created", "A test thing was created"),
    AuditAction("test.thing.updated", "A test thing was updated"),
    AuditAction("test.thing.deleted", "A test thing was deleted"),
    AuditAction("test.types", "A test event with details of many types"),
    AuditAction("test.concurrent", "A test event written concurrently"),
    AuditAction("test.bulk", "A test event written in bulk"),
    AuditAction("test.named", "A test event with an actor"),
)
