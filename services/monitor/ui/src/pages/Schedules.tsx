import { del, post } from "../api";
import { ErrorText, Section } from "../components/Bits";
import { formatTime, useAction, useGet } from "../hooks";

interface Schedule {
  id: string;
  name: string;
  cron: string;
  graph_id: string;
  graph_version: number;
  next_run_time?: string | null;
  input_data?: Record<string, unknown>;
  status?: string;
  agent_name?: string;
  last_fired_at?: string | null;
  last_execution_id?: string | null;
  last_outcome?: string | null;
  timezone?: string;
}

export function SchedulesPage() {
  const schedules = useGet<Schedule[]>("/api/schedules");
  const action = useAction();
  const act = async (fn: () => Promise<unknown>) => {
    if ((await action.run(fn)) !== undefined) schedules.reload();
  };
  return (
    <Section title="Schedules" actions={<button onClick={schedules.reload}>Refresh</button>}>
      <p className="hint">Create one from a graph's page (Run → Schedule with these inputs).</p>
      <ErrorText error={schedules.error} />
      <ErrorText error={action.error} />
      {schedules.data && schedules.data.length === 0 && <p className="hint">No schedules.</p>}
      {schedules.data && schedules.data.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Cron</th>
              <th>Graph</th>
              <th>Status</th>
              <th>Next run</th>
              <th>Last run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {schedules.data.map((s) => (
              <tr key={s.id} data-testid="schedule-row" data-schedule-id={s.id}>
                <td>
                  {s.name}
                </td>
                <td>
                  <code>{s.cron}</code> <span className="muted">{s.timezone ?? ""}</span>
                </td>
                <td>
                  <a href={`#/graphs/${s.graph_id}`}>
                    {s.agent_name ?? <code>{s.graph_id.slice(0, 8)}</code>} v{s.graph_version}
                  </a>
                </td>
                <td data-testid="schedule-status">{s.status ?? ""}</td>
                <td>{formatTime(s.next_run_time)}</td>
                <td>
                  {s.last_execution_id ? (
                    <a href={`#/graphs/${s.graph_id}/runs/${s.last_execution_id}`}>
                      {formatTime(s.last_fired_at)} {s.last_outcome ?? ""}
                    </a>
                  ) : (
                    formatTime(s.last_fired_at)
                  )}
                </td>
                <td className="actions">
                  <button disabled={action.busy} onClick={() => void act(() => post(`/api/schedules/${s.id}/run`))}>
                    Run now
                  </button>
                  <button disabled={action.busy} onClick={() => void act(() => post(`/api/schedules/${s.id}/pause`))}>
                    Pause
                  </button>
                  <button disabled={action.busy} onClick={() => void act(() => post(`/api/schedules/${s.id}/resume`))}>
                    Resume
                  </button>
                  <button className="danger" disabled={action.busy} onClick={() => void act(() => del(`/api/schedules/${s.id}`))}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
