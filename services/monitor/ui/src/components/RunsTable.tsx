import { durationSeconds, formatDuration, formatTime } from "../hooks";
import { navigate } from "../router";
import type { Execution } from "../types";
import { StatusBadge } from "./Bits";

export function RunsTable({ runs, current }: { runs: Execution[]; current?: string }) {
  if (runs.length === 0) return <p className="hint">No runs yet.</p>;
  return (
    <table className="list">
      <thead>
        <tr>
          <th>Run</th>
          <th>Status</th>
          <th>Started</th>
          <th>Took</th>
          <th>Cost</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr
            key={r.id}
            data-testid="run-row"
            data-exec-id={r.id}
            className={`clickable${r.id === current ? " current" : ""}`}
            onClick={() => navigate(`/graphs/${r.graph_id}/runs/${r.id}`)}
          >
            <td>
              <a href={`#/graphs/${r.graph_id}/runs/${r.id}`}>
                <code>{r.id.slice(0, 8)}</code>
              </a>
              {r.parent_graph_exec_id ? <span className="muted"> (sub-run)</span> : null}
            </td>
            <td>
              <StatusBadge status={r.status} />
            </td>
            <td>{formatTime(r.started_at)}</td>
            <td>{formatDuration(durationSeconds(r.started_at, r.ended_at))}</td>
            <td>{r.stats?.cost ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
