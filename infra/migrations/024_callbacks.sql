-- Read model of completion-webhook deliveries (rebuilt from the callbacks log). The notifier's
-- retry loop reads next_attempt_at to find due deliveries; each attempt is still decided on the
-- delivery's stream. The webhooks themselves are folded from the owner's stream on the command side.

CREATE TABLE IF NOT EXISTS rm_callback_deliveries (
    delivery_id        uuid PRIMARY KEY,
    callback_id        uuid NOT NULL,
    user_id            text NOT NULL,
    event              text NOT NULL,
    execution_id       uuid NOT NULL,
    graph_id           text NOT NULL,
    status             text NOT NULL,          -- pending | succeeded | abandoned
    attempts           integer NOT NULL DEFAULT 0,
    last_status_code   integer,
    last_error         text,
    next_attempt_at    timestamptz,            -- due (or a claim's lease end); null once done
    delivered_at       timestamptz,
    abandoned_reason   text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_callback_deliveries_callback
    ON rm_callback_deliveries (callback_id, created_at DESC);
CREATE INDEX IF NOT EXISTS rm_callback_deliveries_due
    ON rm_callback_deliveries (next_attempt_at) WHERE status = 'pending';
