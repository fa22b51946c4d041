-- Read model of the schedules context (rebuilt from the schedules log). The scheduler reads
-- next_fire_at to find due schedules; the stream stays the truth (each tick is decided on it).

CREATE TABLE IF NOT EXISTS rm_schedules (
    schedule_id        uuid PRIMARY KEY,
    user_id            text NOT NULL,
    graph_id           uuid NOT NULL,
    graph_version      bigint NOT NULL,
    agent_name         text,
    name               text NOT NULL,
    cron               text NOT NULL,
    timezone           text NOT NULL,
    input_data         jsonb NOT NULL,
    input_credentials  jsonb NOT NULL,
    preset_id          uuid,
    status             text NOT NULL,          -- active | paused | deleted
    handled_until      timestamptz NOT NULL,   -- every tick at or before it is handled
    next_fire_at       timestamptz,            -- the next tick to handle (null: paused or deleted)
    last_fired_at      timestamptz,            -- the last fire's tick
    last_execution_id  uuid,
    last_outcome       text,                   -- fired | refused: <reason>
    last_fired_logged  timestamptz,            -- when the last fire was recorded (recovery sweep)
    ended_reason       text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_schedules_user ON rm_schedules (user_id, created_at DESC) WHERE status <> 'deleted';
CREATE INDEX IF NOT EXISTS rm_schedules_graph ON rm_schedules (graph_id) WHERE status <> 'deleted';
CREATE INDEX IF NOT EXISTS rm_schedules_due ON rm_schedules (next_fire_at) WHERE status = 'active';
