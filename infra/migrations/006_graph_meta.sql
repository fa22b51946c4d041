-- GraphMeta (the graph without nodes and links) kept beside the full model, for list endpoints.
ALTER TABLE rm_graph_versions ADD COLUMN IF NOT EXISTS meta jsonb;
UPDATE rm_graph_versions SET meta = model - 'nodes' - 'links' - 'sub_graphs' WHERE meta IS NULL;
