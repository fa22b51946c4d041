"""Which projection handles which context, and the read-model tables each one owns."""

from __future__ import annotations

from services.projector.projections import apikeys, credits, executions, graphs, integrations

HANDLERS = {
    "graphs": graphs.apply,
    "executions": executions.apply,
    "credits": credits.apply,
    "apikeys": apikeys.apply,
    "integrations": integrations.apply,
}

TABLES = {
    "graphs": graphs.TABLES,
    "executions": executions.TABLES,
    "credits": credits.TABLES,
    "apikeys": apikeys.TABLES,
    "integrations": integrations.TABLES,
}
