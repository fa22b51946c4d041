"""Language-model access for the AI blocks: a model table, one small provider interface and the
wire clients behind it (OpenAI-compatible chat completions, Anthropic messages)."""
