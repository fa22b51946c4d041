-- Values kept by the Persist/Retrieve blocks, per user (keys already carry their scope).
CREATE TABLE IF NOT EXISTS kv_data (
    user_id    text NOT NULL,
    key        text NOT NULL,
    value      jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
