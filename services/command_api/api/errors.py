"""The one table mapping command-side refusals to HTTP answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.command_api.application.executions import NoCredits, StopTimeout
from services.domain.credits.ledger import InsufficientBalance
from services.domain.errors import (ConflictError, DomainRefusal, Forbidden, InvalidCommand, NotFoundError,
                                                PayloadTooLarge)
from services.infra.eventstore import ConcurrencyConflict, EventTooLarge
from services.domain.graphs.rules import GraphValidationError

STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (NoCredits, 402),
    (InsufficientBalance, 402),
    (PayloadTooLarge, 413),
    (NotFoundError, 404),
    (Forbidden, 403),
    (ConflictError, 409),
    (InvalidCommand, 400),
    (DomainRefusal, 400),
]


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainRefusal)
    async def _refusal(_: Request, exc: DomainRefusal) -> JSONResponse:
        status = next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))
        return JSONResponse({"detail": exc.message}, status_code=status)

    @app.exception_handler(GraphValidationError)
    async def _invalid_graph(_: Request, exc: GraphValidationError) -> JSONResponse:
        return JSONResponse({"detail": {"type": "validation_error", "message": exc.message,
                                        "node_errors": exc.node_errors}}, status_code=400)

    @app.exception_handler(StopTimeout)
    async def _stop_timeout(_: Request, exc: StopTimeout) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=504)

    @app.exception_handler(EventTooLarge)
    async def _too_large(_: Request, exc: EventTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return JSONResponse({"detail": "Concurrent modification; please retry"}, status_code=409)
