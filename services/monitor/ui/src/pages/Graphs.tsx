import { useState } from "react";
import { post } from "../api";
import { ErrorText, Section } from "../components/Bits";
import { formatTime, useAction, useGet } from "../hooks";
import { navigate } from "../router";
import type { Graph, LibraryAgent } from "../types";

/** A pasted AutoGPT export: the graph itself, or `{"graph": …}` around it. */
function graphBody(text: string): { graph: unknown } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a JSON object");
  const obj = parsed as Record<string, unknown>;
  if (obj.graph && typeof obj.graph === "object" && !Array.isArray(obj.nodes)) return { graph: obj.graph };
  return { graph: obj };
}

function ImportGraph() {
  const [text, setText] = useState("");
  const action = useAction();
  const submit = async () => {
    const created = await action.run(async () => post<Graph>("/api/graphs", graphBody(text)));
    if (created) navigate(`/graphs/${created.id}`);
  };
  const upload = async (file: File | undefined) => {
    if (file) setText(await file.text());
  };
  return (
    <Section title="Import a graph">
      <p className="hint">Paste an AutoGPT agent export (JSON), or pick the file.</p>
      <textarea
        data-testid="import-graph-json"
        rows={8}
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder='{"name": "…", "nodes": [...], "links": [...]}'
      />
      <div className="row">
        <input type="file" accept=".json,application/json" onChange={(e) => upload(e.target.files?.[0])} />
        <button data-testid="import-graph-submit" disabled={action.busy || !text.trim()} onClick={submit}>
          {action.busy ? "Importing…" : "Import"}
        </button>
      </div>
      <ErrorText error={action.error} />
    </Section>
  );
}

export function GraphsPage() {
  const graphs = useGet<Graph[]>("/api/graphs");
  const library = useGet<{ agents: LibraryAgent[] }>("/api/library/agents?page_size=100");
  return (
    <div className="stack">
      <Section title="Graphs" actions={<button onClick={graphs.reload}>Refresh</button>}>
        <ErrorText error={graphs.error} />
        {graphs.data && graphs.data.length === 0 && <p className="hint">No graphs yet: import one below.</p>}
        {graphs.data && graphs.data.length > 0 && (
          <table className="list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Version</th>
                <th>Nodes</th>
                <th>Created</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {graphs.data.map((g) => (
                <tr
                  key={g.id}
                  className="clickable"
                  data-testid="graph-row"
                  data-graph-id={g.id}
                  onClick={() => navigate(`/graphs/${g.id}`)}
                >
                  <td>
                    <a href={`#/graphs/${g.id}`}>{g.name || g.id}</a>
                  </td>
                  <td>{g.version}</td>
                  <td>{g.nodes?.length ?? ""}</td>
                  <td>{formatTime(g.created_at)}</td>
                  <td className="muted">{g.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <ImportGraph />
      <Section title="Library" actions={<button onClick={library.reload}>Refresh</button>}>
        <ErrorText error={library.error} />
        {library.data && library.data.agents.length === 0 && <p className="hint">The library is empty.</p>}
        {library.data && library.data.agents.length > 0 && (
          <table className="list">
            <thead>
              <tr>
                <th>Agent</th>
                <th>Graph version</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {library.data.agents.map((a) => (
                <tr key={a.id} data-testid="library-row" className="clickable" onClick={() => navigate(`/graphs/${a.graph_id}`)}>
                  <td>
                    <a href={`#/graphs/${a.graph_id}`}>{a.name}</a>
                  </td>
                  <td>{a.graph_version}</td>
                  <td>{formatTime(a.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
