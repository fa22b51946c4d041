import { del, post } from "../api";
import { ErrorText, JsonView, Section } from "../components/Bits";
import { formatTime, useAction, useGet } from "../hooks";
import { navigate } from "../router";
import type { Execution } from "../types";

interface Preset {
  id: string;
  name: string;
  description: string;
  graph_id: string;
  graph_version: number;
  inputs: Record<string, unknown>;
  is_active?: boolean;
  updated_at?: string;
}

export function PresetsPage() {
  const presets = useGet<{ presets: Preset[] }>("/api/library/presets?page_size=100");
  const action = useAction();
  const runPreset = async (p: Preset) => {
    const run = await action.run(() => post<Execution>(`/api/library/presets/${p.id}/execute`, { inputs: {} }));
    if (run) navigate(`/graphs/${run.graph_id ?? p.graph_id}/runs/${run.id}`);
  };
  const remove = async (p: Preset) => {
    if ((await action.run(() => del(`/api/library/presets/${p.id}`))) !== undefined) presets.reload();
  };
  return (
    <Section title="Presets" actions={<button onClick={presets.reload}>Refresh</button>}>
      <ErrorText error={presets.error} />
      <ErrorText error={action.error} />
      {presets.data && presets.data.presets.length === 0 && <p className="hint">No presets.</p>}
      {presets.data && presets.data.presets.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Graph</th>
              <th>Inputs</th>
              <th>Updated</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {presets.data.presets.map((p) => (
              <tr key={p.id} data-testid="preset-row" data-preset-id={p.id}>
                <td>
                  {p.name}
                  <div className="muted small">{p.description}</div>
                </td>
                <td>
                  <a href={`#/graphs/${p.graph_id}`}>
                    <code>{p.graph_id.slice(0, 8)}</code> v{p.graph_version}
                  </a>
                </td>
                <td>
                  <JsonView value={p.inputs} />
                </td>
                <td>{formatTime(p.updated_at)}</td>
                <td className="actions">
                  <button disabled={action.busy} onClick={() => void runPreset(p)}>
                    Run
                  </button>
                  <button className="danger" disabled={action.busy} onClick={() => void remove(p)}>
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
