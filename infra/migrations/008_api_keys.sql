-- API keys: the read model, last use (operational, written by the external API) and rate limits.

CREATE TABLE IF NOT EXISTS rm_api_keys (
    key_id       uuid PRIMARY KEY,
    user_id      text NOT NULL,
    name         text NOT NULL,
    description  text,
    head         text NOT NULL,
    tail         text NOT NULL,
    status       text NOT NULL,
    permissions  jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX IF NOT EXISTS rm_api_keys_user ON rm_api_keys (user_id, created_at DESC);

-- Not derived from events (never rebuilt): at most one write per key per minute.
CREATE TABLE IF NOT EXISTS api_key_usage (
    key_id       uuid PRIMARY KEY,
    last_used_at timestamptz NOT NULL
);

-- Fixed one-minute windows shared by every API instance (services/common/ratelimit.py).
CREATE TABLE IF NOT EXISTS rate_limit_windows (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    count        int NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX IF NOT EXISTS rate_limit_windows_start ON rate_limit_windows (window_start);
