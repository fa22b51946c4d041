-- Read models of the executions context.

CREATE TABLE IF NOT EXISTS rm_executions (
    execution_id        uuid PRIMARY KEY,
    user_id             text NOT NULL,
    graph_id            uuid NOT NULL,
    graph_version       int NOT NULL,
    status              text NOT NULL,
    inputs              jsonb NOT NULL DEFAULT '{}'::jsonb,
    nodes_input_masks   jsonb,
    preset_id           text,
    parent_execution_id uuid,
    stats               jsonb,
    error               text,
    created_at          timestamptz NOT NULL,
    started_at          timestamptz,
    ended_at            timestamptz,
    updated_at          timestamptz NOT NULL,
    last_seq            bigint NOT NULL DEFAULT 0,
    is_deleted          boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS rm_executions_user ON rm_executions (user_id, created_at DESC) WHERE NOT is_deleted;
CREATE INDEX IF NOT EXISTS rm_executions_graph ON rm_executions (graph_id, user_id, created_at DESC) WHERE NOT is_deleted;
CREATE INDEX IF NOT EXISTS rm_executions_parent ON rm_executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS rm_node_executions (
    node_exec_id  uuid PRIMARY KEY,
    execution_id  uuid NOT NULL,
    node_id       text NOT NULL,
    block_id      text NOT NULL,
    status        text NOT NULL,
    input_data    jsonb NOT NULL DEFAULT '{}'::jsonb,
    output_data   jsonb NOT NULL DEFAULT '{}'::jsonb,
    added_seq     bigint NOT NULL,
    add_time      timestamptz,
    queue_time    timestamptz,
    start_time    timestamptz,
    end_time      timestamptz,
    stats         jsonb,
    error         text
);
CREATE INDEX IF NOT EXISTS rm_node_executions_exec ON rm_node_executions (execution_id, added_seq);
