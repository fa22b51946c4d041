import { useState } from "react";
import { ErrorText, JsonView, Section } from "../components/Bits";
import { GraphCanvas } from "../components/GraphCanvas";
import { RunForm } from "../components/RunForm";
import { RunsTable } from "../components/RunsTable";
import { useBlocks, useGet } from "../hooks";
import type { Execution, Graph } from "../types";

export function GraphPage({ graphId }: { graphId: string }) {
  const graph = useGet<Graph>(`/api/graphs/${graphId}`);
  const runs = useGet<{ executions: Execution[] }>(`/api/graphs/${graphId}/executions?page_size=50`);
  const blocks = useBlocks();
  const [picked, setPicked] = useState<string | null>(null);
  const g = graph.data;
  const node = g?.nodes.find((n) => n.id === picked);
  return (
    <div className="stack">
      <ErrorText error={graph.error} />
      {g && (
        <>
          <div className="title-row">
            <h1>
              {g.name} <span className="muted">v{g.version}</span>
            </h1>
            <span className="muted">{g.description}</span>
          </div>
          <div className="split">
            <GraphCanvas graph={g} blocks={blocks} selected={picked} onNodeClick={setPicked} />
            <aside className="side">
              <Section title="Run">
                <RunForm key={`${g.id}:${g.version}`} graph={g} />
              </Section>
              {node && (
                <Section title={blocks.get(node.block_id)?.title ?? "Node"} actions={<button onClick={() => setPicked(null)}>×</button>}>
                  <div data-testid="node-details">
                    <p className="muted">
                      node <code>{node.id}</code>
                    </p>
                    <h3>Input defaults</h3>
                    <JsonView value={node.input_default} />
                  </div>
                </Section>
              )}
            </aside>
          </div>
        </>
      )}
      <Section title="Runs" actions={<button onClick={runs.reload}>Refresh</button>}>
        <ErrorText error={runs.error} />
        {runs.data && <RunsTable runs={runs.data.executions} />}
      </Section>
    </div>
  );
}
