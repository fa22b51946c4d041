-- User credentials (provider API keys): the listing read model. No secret, no ciphertext here:
-- the executor resolves secrets from the event store, so the read side never needs them.

CREATE TABLE IF NOT EXISTS rm_credentials (
    credentials_id uuid PRIMARY KEY,
    user_id        text NOT NULL,
    provider       text NOT NULL,
    type           text NOT NULL,
    title          text,
    expires_at     bigint,
    created_at     timestamptz NOT NULL,
    deleted_at     timestamptz
);
CREATE INDEX IF NOT EXISTS rm_credentials_user ON rm_credentials (user_id, provider, created_at);
