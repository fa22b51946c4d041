"""Events of the executions context (stream = one graph execution id)."""
