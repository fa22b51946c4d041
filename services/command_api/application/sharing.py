"""Share links for runs (AutoGPT's ``share`` routes): the owner turns sharing of an ended run on
(a new random token, 256 bits, recorded as ``ExecutionShared``) or off (``ExecutionUnshared``).
Sharing is only for ended runs: a share recorded mid-run would cost the running executor its next
write (it resumes from the store), and a half-finished run's outputs are not what one shares."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from schemas.events.executions import ExecutionShared, ExecutionUnshared
from services.command_api.application.executions import ExecutionCommands
from services.domain.errors import ConflictError
from services.domain.executions.state import ExecutionState
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.store_contract import NewEvent

SHARED_PATH = "/api/public/shared/"


class ShareCommands:
    def __init__(self, executions: ExecutionCommands, public_url: str) -> None:
        self.executions = executions
        self.public_url = public_url.rstrip("/")

    def share(self, user: User, graph_id: str, execution_id: str) -> dict[str, Any]:
        """``{share_url, share_token}``; sharing a shared run again answers its current token."""
        def record(state: ExecutionState) -> str:
            if not state.is_terminal:
                raise ConflictError(f"Graph execution #{execution_id} is {state.status}; share it once it has ended")
            if state.share_token is not None:
                return state.share_token
            token = secrets.token_urlsafe(32)
            self.executions.store.append([NewEvent(uuid.UUID(execution_id), state.version + 1,
                                                   ExecutionShared(share_token=token, shared_by=user.id),
                                                   user_id=user.id)])
            return token

        token = decide_and_append(lambda: self.executions.owned_state(user, graph_id, execution_id), record)
        return {"share_url": f"{self.public_url}{SHARED_PATH}{token}", "share_token": token}

    def unshare(self, user: User, graph_id: str, execution_id: str) -> None:
        def record(state: ExecutionState) -> None:
            if state.share_token is None:
                return
            self.executions.store.append([NewEvent(uuid.UUID(execution_id), state.version + 1,
                                                   ExecutionUnshared(unshared_by=user.id), user_id=user.id)])

        decide_and_append(lambda: self.executions.owned_state(user, graph_id, execution_id), record)
