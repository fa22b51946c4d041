"""The library's REST shapes (AutoGPT's ``LibraryAgent``, ``LibraryFolder``, ``LibraryAgentPreset``)
and the one builder of each, used by the query API (from read-model rows) and the command API
(from folded aggregates) alike, so an entry reads the same whichever side answers.

Execution figures follow AutoGPT's formulas over the caller's runs of the graph: ``execution_count``
is every run, ``success_rate`` the completed share of them in percent, ``status`` and
``new_output`` come from the ten most recent runs (any FAILED: ERROR, else any QUEUED: WAITING,
else any RUNNING: HEALTHY, else COMPLETED; a COMPLETED run in the last seven days is new output).
Unlike AutoGPT's lists, which leave these at zero, every shape carries them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from services.domain.executions.status import ExecutionStatus
from services.domain.paging import Pagination

RECENT_RUNS = 10
NEW_OUTPUT_WINDOW = timedelta(days=7)
UNKNOWN_CREATOR = "Unknown"


class RecentExecution(BaseModel):
    status: str
    correctness_score: float | None
    activity_summary: str | None


class GraphSettings(BaseModel):
    human_in_the_loop_safe_mode: bool
    sensitive_action_safe_mode: bool


class LibraryAgentView(BaseModel):
    id: str
    graph_id: str
    graph_version: int
    image_url: str | None
    creator_name: str
    creator_image_url: str
    status: Literal["COMPLETED", "HEALTHY", "WAITING", "ERROR"]
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None
    name: str
    description: str
    instructions: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    credentials_input_schema: dict[str, Any] | None
    has_external_trigger: bool
    has_human_in_the_loop: bool
    has_sensitive_action: bool
    trigger_setup_info: dict[str, Any] | None
    new_output: bool
    execution_count: int
    success_rate: float | None
    avg_correctness_score: float | None
    recent_executions: list[RecentExecution]
    can_access_graph: bool
    is_latest_version: bool
    is_favorite: bool
    is_archived: bool
    auto_update_version: bool
    folder_id: str | None
    folder_name: str | None
    recommended_schedule_cron: str | None
    is_scheduled: bool
    next_scheduled_run: str | None
    settings: GraphSettings
    marketplace_listing: dict[str, Any] | None


class LibraryAgentPage(BaseModel):
    agents: list[LibraryAgentView]
    pagination: Pagination


class LibraryFolderView(BaseModel):
    id: str
    user_id: str
    name: str
    icon: str | None
    color: str | None
    parent_id: str | None
    created_at: datetime
    updated_at: datetime
    agent_count: int
    subfolder_count: int


class LibraryFolderTreeView(LibraryFolderView):
    children: list[LibraryFolderTreeView]


class FolderPage(BaseModel):
    folders: list[LibraryFolderView]
    pagination: Pagination


class FolderTreePage(BaseModel):
    tree: list[LibraryFolderTreeView]


class PresetView(BaseModel):
    id: str
    user_id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    inputs: dict[str, Any]
    credentials: dict[str, Any]
    is_active: bool
    webhook_id: str | None
    webhook: dict[str, Any] | None
    from_execution_id: str | None
    created_at: datetime
    updated_at: datetime


class PresetPage(BaseModel):
    presets: list[PresetView]
    pagination: Pagination


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _status(recent: list[dict[str, Any]]) -> str:
    statuses = {r["status"] for r in recent}
    if ExecutionStatus.FAILED in statuses:
        return "ERROR"
    if ExecutionStatus.QUEUED in statuses:
        return "WAITING"
    if ExecutionStatus.RUNNING in statuses:
        return "HEALTHY"
    return "COMPLETED"


def _score(run: dict[str, Any]) -> float | None:
    value = (run.get("stats") or {}).get("correctness_score")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def run_figures(runs: int, completed: int, last_run_at: datetime | None, recent: list[dict[str, Any]],
                now: datetime) -> dict[str, Any]:
    """The execution figures of an entry: ``recent`` is the newest runs first, each
    ``{status, stats, created_at}``."""
    recent = recent[:RECENT_RUNS]
    scores = [s for s in (_score(r) for r in recent) if s is not None]
    return {
        "status": _status(recent), "last_run_at": _iso(last_run_at),
        "new_output": any(r["status"] == ExecutionStatus.COMPLETED and r["created_at"] >= now - NEW_OUTPUT_WINDOW
                          for r in recent),
        "execution_count": runs,
        "success_rate": round(completed / runs * 100, 2) if runs else None,
        "avg_correctness_score": round(sum(scores) / len(scores), 4) if scores else None,
        "recent_executions": [{"status": str(r["status"]), "correctness_score": _score(r),
                               "activity_summary": (r.get("stats") or {}).get("activity_status")} for r in recent],
    }


def library_agent_view(*, agent_id: str, user_id: str, graph: dict[str, Any], graph_version: int,
                       graph_updated_at: datetime | None, created_at: datetime, updated_at: datetime | None,
                       is_favorite: bool, is_archived: bool, auto_update_version: bool, folder_id: str | None,
                       folder_name: str | None, settings: dict[str, Any], figures: dict[str, Any]) -> dict[str, Any]:
    """``graph`` is the entry's graph version as ``GraphMeta`` (``services.domain.graphs.model``)."""
    touched = max(t for t in (graph_updated_at, updated_at, created_at) if t is not None)
    return {
        "id": agent_id, "graph_id": graph["id"], "graph_version": graph_version, "image_url": None,
        "creator_name": UNKNOWN_CREATOR, "creator_image_url": "",
        "created_at": _iso(created_at), "updated_at": _iso(touched),
        "name": graph.get("name") or "", "description": graph.get("description") or "",
        "instructions": graph.get("instructions"),
        "input_schema": graph.get("input_schema") or {}, "output_schema": graph.get("output_schema") or {},
        "credentials_input_schema": graph.get("credentials_input_schema"),
        "has_external_trigger": bool(graph.get("has_external_trigger")),
        "has_human_in_the_loop": bool(graph.get("has_human_in_the_loop")),
        "has_sensitive_action": bool(graph.get("has_sensitive_action")),
        "trigger_setup_info": graph.get("trigger_setup_info"),
        **figures,
        "can_access_graph": graph.get("user_id") == user_id, "is_latest_version": True,
        "is_favorite": is_favorite, "is_archived": is_archived, "auto_update_version": auto_update_version,
        "folder_id": folder_id, "folder_name": folder_name,
        "recommended_schedule_cron": graph.get("recommended_schedule_cron"),
        "is_scheduled": False, "next_scheduled_run": None,
        "settings": settings, "marketplace_listing": None,
    }


def folder_view(*, folder_id: str, user_id: str, name: str, icon: str | None, color: str | None,
                parent_id: str | None, created_at: datetime | None, updated_at: datetime | None,
                agent_count: int, subfolder_count: int) -> dict[str, Any]:
    return {"id": folder_id, "user_id": user_id, "name": name, "icon": icon, "color": color,
            "parent_id": parent_id, "created_at": _iso(created_at), "updated_at": _iso(updated_at or created_at),
            "agent_count": agent_count, "subfolder_count": subfolder_count}


def folder_tree(folders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest folder views by ``parent_id`` (input in the order children should appear); a folder
    whose parent is missing becomes a root, as AutoGPT does."""
    nodes = {f["id"]: {**f, "children": []} for f in folders}
    roots = []
    for folder in folders:
        node, parent = nodes[folder["id"]], nodes.get(folder["parent_id"] or "")
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def preset_view(*, preset_id: str, user_id: str, graph_id: str, graph_version: int, name: str, description: str,
                inputs: dict[str, Any], credentials: dict[str, Any], is_active: bool, from_execution_id: str | None,
                created_at: datetime | None, updated_at: datetime | None,
                webhook_id: str | None = None) -> dict[str, Any]:
    return {"id": preset_id, "user_id": user_id, "graph_id": graph_id, "graph_version": graph_version,
            "name": name, "description": description, "inputs": inputs, "credentials": credentials,
            "is_active": is_active, "webhook_id": webhook_id, "webhook": None, "from_execution_id": from_execution_id,
            "created_at": _iso(created_at), "updated_at": _iso(updated_at or created_at)}
