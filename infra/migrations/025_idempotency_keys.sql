-- Idempotency-Key (docs/idempotency.md): the first answer to a creating POST per (principal, key),
-- replayed to a repeat within 24 h. A request dedup cache, not domain state: losing it only
-- reopens a key (services/infra/idempotency.py).
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    state        text NOT NULL CHECK (state IN ('running', 'done')),
    claim        uuid NOT NULL,
    status       int,
    content_type text,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
