-- Read models of the graphs context.

CREATE TABLE IF NOT EXISTS rm_graphs (
    graph_id       uuid PRIMARY KEY,
    user_id        text NOT NULL,
    active_version int,
    latest_version int NOT NULL,
    deleted        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_graphs_user ON rm_graphs (user_id) WHERE NOT deleted;

CREATE TABLE IF NOT EXISTS rm_graph_versions (
    graph_id   uuid NOT NULL,
    version    int NOT NULL,
    user_id    text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    model      jsonb NOT NULL,   -- GraphModel response body, without is_active
    PRIMARY KEY (graph_id, version)
);
