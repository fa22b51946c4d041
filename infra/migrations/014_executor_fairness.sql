-- The fair executor's shared counters (audit F4/F5). Not events: they bound work, they are not
-- history. Every executor instance shares them, wherever the executions of one tree run.

-- Child executions per root execution (max_descendants_per_execution). One row per child, so a
-- parent node re-run after a crash that queues the same child again is not counted twice.
CREATE TABLE IF NOT EXISTS executor_descendants (
    root_execution_id text NOT NULL,
    execution_id      text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (root_execution_id, execution_id)
);
CREATE TABLE IF NOT EXISTS executor_descendant_counts (
    root_execution_id text PRIMARY KEY,
    descendants       int NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Node executions per user (AutoGPT's per-threshold surcharge). Each node execution gets its
-- user's next number once; a node re-run after a crash keeps its number, so the surcharge keyed
-- by it is never paid twice.
CREATE TABLE IF NOT EXISTS executor_user_node_counts (
    user_id         text PRIMARY KEY,
    node_executions bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS executor_node_numbers (
    node_exec_id text PRIMARY KEY,
    user_id      text NOT NULL,
    seq          bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS executor_node_numbers_created ON executor_node_numbers (created_at);
CREATE INDEX IF NOT EXISTS executor_descendants_created ON executor_descendants (created_at);
