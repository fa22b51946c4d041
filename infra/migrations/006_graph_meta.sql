-- GraphMeta (the graph without nodes and links) kept beside the full model, for list endpoints.
ALTER TABLE rm_graph_versions ADD COLUMN IF NOT EXISTS meta jsonb;
