-- Read models of the library context: entries, folders, presets, and each user's run figures per graph
-- (rebuilt from the graphs, library and executions logs).

CREATE TABLE IF NOT EXISTS rm_library_agents (
    library_agent_id    uuid PRIMARY KEY,
    user_id             text NOT NULL,
    graph_id            uuid NOT NULL,
    is_favorite         boolean NOT NULL DEFAULT false,
    is_archived         boolean NOT NULL DEFAULT false,
    auto_update_version boolean NOT NULL DEFAULT true,
    pinned_version      bigint,
    folder_id           uuid,
    settings            jsonb,
    is_deleted          boolean NOT NULL DEFAULT false,
    created_at          timestamptz,          -- the graph's creation (set by GraphCreated)
    updated_at          timestamptz           -- the entry's last change
);
CREATE INDEX IF NOT EXISTS rm_library_agents_user ON rm_library_agents (user_id) WHERE NOT is_deleted;
CREATE INDEX IF NOT EXISTS rm_library_agents_graph ON rm_library_agents (graph_id);

CREATE TABLE IF NOT EXISTS rm_library_folders (
    folder_id   uuid PRIMARY KEY,
    user_id     text NOT NULL,
    name        text NOT NULL,
    icon        text,
    color       text,
    parent_id   uuid,
    is_deleted  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_library_folders_user ON rm_library_folders (user_id, created_at) WHERE NOT is_deleted;

CREATE TABLE IF NOT EXISTS rm_library_presets (
    preset_id          uuid PRIMARY KEY,
    user_id            text NOT NULL,
    graph_id           uuid NOT NULL,
    graph_version      bigint NOT NULL,
    name               text NOT NULL,
    description        text NOT NULL DEFAULT '',
    inputs             jsonb NOT NULL DEFAULT '{}'::jsonb,
    credentials        jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_active          boolean NOT NULL DEFAULT true,
    from_execution_id  uuid,
    is_deleted         boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_library_presets_user ON rm_library_presets (user_id, created_at DESC) WHERE NOT is_deleted;

CREATE TABLE IF NOT EXISTS rm_library_run_counts (
    user_id      text NOT NULL,
    graph_id     uuid NOT NULL,
    runs         bigint NOT NULL DEFAULT 0,   -- runs not deleted
    completed    bigint NOT NULL DEFAULT 0,   -- of those, COMPLETED
    last_run_at  timestamptz,
    PRIMARY KEY (user_id, graph_id)
);
