"""The audit trail (NEN 7513): every access and refusal as a hash-chained, append-only AuditEvent."""
