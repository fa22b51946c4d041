-- Read models of the credits context.
CREATE TABLE IF NOT EXISTS rm_credit_transactions (
    user_id          text NOT NULL,
    seq              bigint NOT NULL,
    transaction_key  text NOT NULL,
    transaction_type text NOT NULL,
    amount           bigint NOT NULL,
    running_balance  bigint NOT NULL,
    reason           text,
    admin_id         text,
    usage            jsonb,
    entry            jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX IF NOT EXISTS rm_credit_transactions_time ON rm_credit_transactions (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS rm_credit_balances (
    user_id    text PRIMARY KEY,
    balance    bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
