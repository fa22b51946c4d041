"""Which projection handles which context, and the read-model tables each one owns."""

from __future__ import annotations

from services.projector.projections import apikeys, credits, executions, graphs, integrations, notifications

HANDLERS = {
    "graphs": graphs.apply,
    "executions": executions.apply,
    "credits": credits.apply,
    "apikeys": apikeys.apply,
    "integrations": integrations.apply,
    "notifications": notifications.apply,
}

TABLES = {
    "graphs": graphs.TABLES,
    "executions": executions.TABLES,
    "credits": credits.TABLES,
    "apikeys": apikeys.TABLES,
    "integrations": integrations.TABLES,
    "notifications": notifications.TABLES,
}
