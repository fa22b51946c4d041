"""Bounded contexts and their Kafka topics. Topic names are part of the public contract."""

CONTEXTS: tuple[str, ...] = ("graphs", "executions", "credits", "apikeys", "integrations", "users", "notifications",
                             "library", "store", "schedules", "callbacks")


def topic_name(context: str, prefix: str = "agentloom") -> str:
    if context not in CONTEXTS:
        raise ValueError(f"unknown context {context!r}")
    return f"{prefix}.{context}.events.v1"
