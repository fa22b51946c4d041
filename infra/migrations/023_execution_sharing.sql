-- Share links (issue 18): the token of a run its owner shares (null when not shared).
ALTER TABLE rm_executions ADD COLUMN IF NOT EXISTS share_token text;
ALTER TABLE rm_executions ADD COLUMN IF NOT EXISTS shared_at timestamptz;
CREATE UNIQUE INDEX IF NOT EXISTS rm_executions_share_token ON rm_executions (share_token)
    WHERE share_token IS NOT NULL;
