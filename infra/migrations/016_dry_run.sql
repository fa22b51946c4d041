-- Whether a run is a dry run (ExecutionQueued.is_dry_run, AutoGPT's GraphExecutionMeta.is_dry_run):
-- blocks with external effects were simulated and nothing was charged. Runs recorded before it are real.
ALTER TABLE rm_executions ADD COLUMN IF NOT EXISTS is_dry_run boolean NOT NULL DEFAULT false;
