-- Graph versions as bigint in the read models (audit F1). The API bounds a graph version to
-- 2^31-1, but the store is the truth and already holds whatever it was given: a read model must
-- be able to hold every value a projected event can carry, or one event stops the projector.
-- Only columns still typed integer are altered, so `agentloom migrate` (run on every start) takes
-- no table lock once this has been applied.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema()
          AND c.data_type = 'integer'
          AND (c.table_name, c.column_name) IN (('rm_graphs', 'active_version'),
                                                ('rm_graphs', 'latest_version'),
                                                ('rm_graph_versions', 'version'),
                                                ('rm_executions', 'graph_version'))
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE bigint', col.table_name, col.column_name);
    END LOOP;
END
$$;
