-- The cost summary (GET /api/executions/cost-summary) sums each run's USAGE entries: find them by run.
CREATE INDEX IF NOT EXISTS rm_credit_transactions_run
    ON rm_credit_transactions (user_id, (usage ->> 'graph_exec_id'))
    WHERE transaction_type = 'USAGE' AND usage IS NOT NULL;
