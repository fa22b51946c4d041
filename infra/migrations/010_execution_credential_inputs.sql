-- The credential references a run was started with (AutoGPT's GraphExecutionMeta.credential_inputs).
-- References only ({id, provider, type, title}); secrets never reach the executions context.
ALTER TABLE rm_executions ADD COLUMN IF NOT EXISTS credential_inputs jsonb;
