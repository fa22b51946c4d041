-- A projector batch that assumes it continues each stream exactly where the projection stands
-- (services/projector/applier.py, "expect_next") moves projection_streams with this function in
-- the batch's transaction, after its read-model writes. When a stream does not stand at the
-- version the batch assumed (a redelivered event, a gap, another projector got there first) it
-- raises SQLSTATE AL001, the transaction rolls back and the projector applies the batch again the
-- careful way (reading the versions first, skipping duplicates, filling gaps).
-- Idempotent: runs on every start.
CREATE OR REPLACE FUNCTION projection_advance(p_projection text, p_streams uuid[], p_after bigint[],
                                              p_to bigint[])
RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    moved bigint;
    created bigint;
BEGIN
    UPDATE projection_streams p SET version = t.to_version
    FROM unnest(p_streams, p_after, p_to) AS t(stream_id, after_version, to_version)
    WHERE p.projection = p_projection AND p.stream_id = t.stream_id AND t.after_version > 0
      AND p.version = t.after_version;
    GET DIAGNOSTICS moved = ROW_COUNT;
    INSERT INTO projection_streams (projection, stream_id, version)
    SELECT p_projection, t.stream_id, t.to_version
    FROM unnest(p_streams, p_after, p_to) AS t(stream_id, after_version, to_version)
    WHERE t.after_version = 0
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    IF moved + created <> cardinality(p_streams) THEN
        RAISE EXCEPTION 'a stream of this batch does not continue where projection % stands', p_projection
            USING ERRCODE = 'AL001';
    END IF;
END
$$;
