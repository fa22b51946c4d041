-- Events a consumer could not process. A parked stream stays blocked for that consumer (later
-- events of the same stream wait behind it, in order) until an operator retries or skips it
-- (`agentloom deadletters list|retry|skip`); every other stream goes on.
CREATE TABLE IF NOT EXISTS dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,            -- relay | projector | executor | ...
    context     text NOT NULL,            -- the log (graphs, executions, ...)
    stream_id   text NOT NULL,
    position    bigint NOT NULL,          -- notification id in the context's log
    version     bigint,                   -- the stream version, when known
    event_type  text,
    error       text NOT NULL,
    status      text NOT NULL DEFAULT 'parked',   -- parked | retry | skipped | resolved
    attempts    int NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (consumer, context, position);
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters (consumer, context, stream_id) WHERE status IN ('parked', 'retry');
