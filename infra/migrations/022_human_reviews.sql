-- Human review (issue 17): one row per node execution that waits, or waited, for its owner's
-- decision. Projected from NodeReviewRequested / NodeReviewed and the node's end; the payload is
-- copied from the node's input row when the request is projected.
CREATE TABLE IF NOT EXISTS rm_human_reviews (
    node_exec_id    uuid PRIMARY KEY,
    execution_id    uuid NOT NULL,
    user_id         text NOT NULL,
    graph_id        uuid NOT NULL,
    graph_version   int NOT NULL,
    node_id         text NOT NULL,
    block_id        text NOT NULL,
    kind            text NOT NULL,
    payload         jsonb,
    instructions    text,
    editable        boolean NOT NULL,
    status          text NOT NULL,
    review_message  text,
    reviewed_data   jsonb,
    was_edited      boolean NOT NULL DEFAULT false,
    processed       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    reviewed_at     timestamptz
);
CREATE INDEX IF NOT EXISTS rm_human_reviews_waiting ON rm_human_reviews (user_id, created_at, node_exec_id)
    WHERE status = 'WAITING';
CREATE INDEX IF NOT EXISTS rm_human_reviews_execution ON rm_human_reviews (execution_id, created_at);
