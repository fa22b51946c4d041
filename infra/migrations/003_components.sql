-- Liveness of the background services, reported every second; GET /health reads it.
CREATE TABLE IF NOT EXISTS component_heartbeats (
    component  text NOT NULL,
    instance   text NOT NULL,
    ready      boolean NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, instance)
);
