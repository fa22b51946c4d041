// One run: the graph coloured by node status (live over the WebSocket, or as it stood at a
// scrubbed seq), node details, stop / retry / fork / diff, lineage and the run's reviews.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { errorText, get, post, watchExecution, type WsMessage } from "../api";
import { ErrorText, JsonView, Section, StatusBadge } from "../components/Bits";
import { GraphCanvas } from "../components/GraphCanvas";
import { ReviewList } from "../components/ReviewList";
import { RunsTable } from "../components/RunsTable";
import { durationSeconds, formatDuration, formatTime, useAction, useBlocks, useGet } from "../hooks";
import { navigate } from "../router";
import type { AuditEvent, Block, Execution, Graph, NodeExecution, PendingReview } from "../types";

const ENDED = new Set(["COMPLETED", "FAILED", "TERMINATED"]);

interface Live {
  meta: Execution | null;
  nodes: Map<string, NodeExecution>; // by node_exec_id, in the order they were added
  seqs: Map<string, number>; // node_exec_id -> the seq of its last update
  seq: number; // the newest event folded in
}

function fromState(state: Execution): Live {
  const nodes = new Map<string, NodeExecution>();
  const seqs = new Map<string, number>();
  for (const ne of state.node_executions ?? []) {
    nodes.set(ne.node_exec_id, ne);
    seqs.set(ne.node_exec_id, state.seq ?? 0);
  }
  return { meta: state, nodes, seqs, seq: state.seq ?? 0 };
}

function apply(live: Live, msg: WsMessage): Live {
  const data = msg.data as (Record<string, unknown> & { seq?: number }) | null;
  if (!data || typeof data !== "object") return live;
  const seq = typeof data.seq === "number" ? data.seq : live.seq;
  if (msg.method === "node_execution_event") {
    const ne = data as unknown as NodeExecution;
    if ((live.seqs.get(ne.node_exec_id) ?? -1) > seq) return live;
    const nodes = new Map(live.nodes);
    nodes.set(ne.node_exec_id, ne);
    const seqs = new Map(live.seqs);
    seqs.set(ne.node_exec_id, seq);
    return { ...live, nodes, seqs, seq: Math.max(live.seq, seq) };
  }
  if (msg.method === "graph_execution_event") {
    if (live.meta && seq < live.seq && live.meta.seq !== undefined && seq < live.meta.seq) return live;
    return { ...live, meta: { ...(live.meta ?? {}), ...(data as unknown as Execution), seq }, seq: Math.max(live.seq, seq) };
  }
  return live;
}

function statusesOf(nodes: Iterable<NodeExecution>): Map<string, string> {
  const out = new Map<string, string>();
  for (const ne of nodes) out.set(ne.node_id, ne.status); // the node's latest execution wins
  return out;
}

function errorOf(ne: NodeExecution): unknown {
  const error = ne.output_data?.error;
  return Array.isArray(error) ? (error.length === 1 ? error[0] : error) : error;
}

function NodeDetails(props: {
  nodeId: string;
  blockId?: string;
  execs: NodeExecution[];
  blocks: Map<string, Block>;
  onClose: () => void;
}) {
  const { nodeId, blockId, execs, blocks, onClose } = props;
  const block = blocks.get(blockId ?? execs[0]?.block_id ?? "")?.title;
  return (
    <Section title={block ?? "Node"} actions={<button onClick={onClose}>×</button>}>
      <div data-testid="node-details" data-node-id={nodeId}>
        <p className="muted">
          node <code>{nodeId}</code>
        </p>
        {execs.length === 0 && <p className="hint">This node has not run (at this point).</p>}
        {execs.map((ne, i) => {
          const error = errorOf(ne);
          return (
            <div key={ne.node_exec_id} className="node-exec" data-testid="node-exec" data-status={ne.status}>
              <div className="row">
                <strong>#{i + 1}</strong>
                <StatusBadge status={ne.status} />
                <span className="muted">{formatDuration(durationSeconds(ne.start_time, ne.end_time))}</span>
                <span className="muted">cost {String(ne.stats?.cost ?? 0)}</span>
                <code className="muted">{ne.node_exec_id.slice(0, 8)}</code>
              </div>
              {error !== undefined && error !== null ? (
                <p className="error" data-testid="node-error">
                  {typeof error === "string" ? error : JSON.stringify(error)}
                </p>
              ) : null}
              <h3>Inputs</h3>
              <JsonView value={ne.input_data} />
              <h3>Outputs</h3>
              <JsonView value={ne.output_data} />
              <p className="muted small">
                queued {formatTime(ne.queue_time)} · started {formatTime(ne.start_time)} · ended {formatTime(ne.end_time)}
              </p>
            </div>
          );
        })}
      </div>
    </Section>
  );
}

interface DiffSide {
  status: string;
  cost: number;
  duration_s: number | null;
  error: unknown;
}
interface DiffNode {
  node_id: string;
  block_id: string;
  a: DiffSide | null;
  b: DiffSide | null;
  changed: string[];
}
interface Diff {
  a: { id: string; status: string; cost: number };
  b: { id: string; status: string; cost: number };
  nodes: DiffNode[];
  summary: Record<string, number>;
}

function DiffView({ diff, blocks }: { diff: Diff; blocks: Map<string, Block> }) {
  const side = (s: DiffSide | null) => (s ? `${s.status} · ${s.cost} · ${formatDuration(s.duration_s)}` : "—");
  return (
    <div data-testid="diff-result">
      <p>
        <code>{diff.a.id.slice(0, 8)}</code> ({diff.a.status}, cost {diff.a.cost}) vs <code>{diff.b.id.slice(0, 8)}</code> (
        {diff.b.status}, cost {diff.b.cost}): {diff.summary.same} same, {diff.summary.changed} changed, {diff.summary.only_in_a} only in
        this run, {diff.summary.only_in_b} only in the other
      </p>
      <table className="list">
        <thead>
          <tr>
            <th>Node</th>
            <th>This run</th>
            <th>Other</th>
            <th>Changed</th>
          </tr>
        </thead>
        <tbody>
          {diff.nodes.map((n, i) => (
            <tr key={`${n.node_id}-${i}`} className={n.changed.length ? "changed" : ""}>
              <td>
                {blocks.get(n.block_id)?.title ?? n.block_id.slice(0, 8)} <code className="muted">{n.node_id.slice(0, 8)}</code>
              </td>
              <td>{side(n.a)}</td>
              <td>{side(n.b)}</td>
              <td>{n.changed.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface LineageEntry {
  execution_id: string;
  kind: string;
  at_seq: number | null;
  graph_id?: string;
}

function Lineage({ execId, graphId, refresh }: { execId: string; graphId: string; refresh: number }) {
  const path = `/api/executions/${execId}/lineage`;
  const lineage = useGet<{ branched_from: LineageEntry | null; branches: LineageEntry[]; ancestors?: LineageEntry[] }>(path);
  const { reload } = lineage;
  useEffect(() => {
    if (refresh) reload();
  }, [refresh, reload]);
  const link = (e: LineageEntry) => (
    <a href={`#/graphs/${e.graph_id ?? graphId}/runs/${e.execution_id}`}>
      <code>{e.execution_id.slice(0, 8)}</code>
    </a>
  );
  const data = lineage.data;
  return (
    <div data-testid="run-lineage">
      <ErrorText error={lineage.error} />
      {data && !data.branched_from && data.branches.length === 0 && <p className="hint">An original run without branches.</p>}
      {data?.branched_from && (
        <p>
          Branched off {link(data.branched_from)} ({data.branched_from.kind}
          {data.branched_from.at_seq ? ` at seq ${data.branched_from.at_seq}` : ""})
        </p>
      )}
      {data && data.branches.length > 0 && (
        <ul>
          {data.branches.map((b) => (
            <li key={b.execution_id}>
              {b.kind} {link(b)}
              {b.at_seq ? ` at seq ${b.at_seq}` : ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function RunPage({ graphId, execId }: { graphId: string; execId: string }) {
  const blocks = useBlocks();
  const [live, setLive] = useState<Live | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [socketState, setSocketState] = useState("connecting");
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [scrub, setScrub] = useState<number | null>(null); // null: live, at the end
  const [historic, setHistoric] = useState<Execution | null>(null);
  const [historicError, setHistoricError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [forkInputs, setForkInputs] = useState("");
  const [diffWith, setDiffWith] = useState("");
  const [diff, setDiff] = useState<Diff | null>(null);
  const [lineageTick, setLineageTick] = useState(0);
  const action = useAction();
  const version = live?.meta?.graph_version;
  const graph = useGet<Graph>(version ? `/api/graphs/${graphId}/versions/${version}` : null);
  const runs = useGet<{ executions: Execution[] }>(`/api/graphs/${graphId}/executions?page_size=50`);
  const reviews = useGet<PendingReview[]>(`/api/review/execution/${execId}`);

  const loadEvents = useCallback(() => {
    get<{ events: AuditEvent[] }>(`/api/executions/${execId}/events`)
      .then((r) => setEvents(r.events))
      .catch(() => undefined);
  }, [execId]);

  // The run as the store has it now (its seq), then every event after that seq, live.
  useEffect(() => {
    let stop: (() => void) | null = null;
    let cancelled = false;
    get<Execution>(`/api/executions/${execId}/state`)
      .then((state) => {
        if (cancelled) return;
        setLive(fromState(state));
        setForkInputs(JSON.stringify(state.inputs ?? {}, null, 2));
        stop = watchExecution(execId, state.seq ?? 0, (msg) => setLive((old) => (old ? apply(old, msg) : old)), setSocketState);
      })
      .catch((e) => !cancelled && setLoadError(errorText(e)));
    loadEvents();
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [execId, loadEvents]);

  const status = live?.meta?.status ?? "";
  const ended = ENDED.has(status);
  const lastSeq = Math.max(live?.seq ?? 0, events.length ? events[events.length - 1].seq : 0);

  // The events list follows the run: refetched when it ends or waits for review.
  const reloadReviews = reviews.reload;
  const reloadRuns = runs.reload;
  useEffect(() => {
    if (status) {
      loadEvents();
      reloadReviews();
      reloadRuns();
    }
  }, [status, loadEvents, reloadReviews, reloadRuns]);

  // The scrubbed state, debounced.
  const atSeq = scrub !== null && scrub < lastSeq ? scrub : null;
  const request = useRef(0);
  useEffect(() => {
    if (atSeq === null) {
      setHistoric(null);
      setHistoricError(null);
      return;
    }
    const mine = ++request.current;
    const timer = window.setTimeout(() => {
      get<Execution>(`/api/executions/${execId}/state?at_seq=${atSeq}`)
        .then((state) => {
          if (mine === request.current) {
            setHistoric(state);
            setHistoricError(null);
          }
        })
        .catch((e) => mine === request.current && setHistoricError(errorText(e)));
    }, 120);
    return () => window.clearTimeout(timer);
  }, [atSeq, execId]);

  const shownNodes: NodeExecution[] = useMemo(() => {
    if (atSeq !== null && historic) return historic.node_executions ?? [];
    return live ? [...live.nodes.values()] : [];
  }, [atSeq, historic, live]);
  const statuses = useMemo(() => statusesOf(shownNodes), [shownNodes]);
  const shownSeq = scrub !== null && scrub < lastSeq ? scrub : lastSeq;
  const eventAt = events.find((e) => e.seq === shownSeq);

  const stopRun = async () => {
    const final = await action.run(() => post<Execution>(`/api/graphs/${graphId}/executions/${execId}/stop`, {}));
    if (final) setLive((old) => (old ? { ...old, meta: { ...old.meta, ...final } } : old));
  };
  const retry = async () => {
    const run = await action.run(() => post<Execution>(`/api/executions/${execId}/retry`, {}));
    if (run) navigate(`/graphs/${run.graph_id ?? graphId}/runs/${run.id}`);
  };
  const fork = async () => {
    const run = await action.run(async () => {
      let inputs: unknown = {};
      if (forkInputs.trim()) {
        try {
          inputs = JSON.parse(forkInputs);
        } catch {
          throw new Error("fork inputs: not JSON");
        }
      }
      return post<Execution>(`/api/executions/${execId}/fork`, { at_seq: shownSeq, inputs, node_inputs: {} });
    });
    if (run) navigate(`/graphs/${run.graph_id ?? graphId}/runs/${run.id}`);
  };
  const runDiff = async () => {
    const result = await action.run(async () => {
      // the picked run; else the run this one branched off; else the graph's latest other run
      let other = diffWith;
      if (!other) other = (await get<{ branched_from: LineageEntry | null }>(`/api/executions/${execId}/lineage`)).branched_from?.execution_id ?? "";
      if (!other) {
        const latest = await get<{ executions: Execution[] }>(`/api/graphs/${graphId}/executions?page_size=50`);
        other = latest.executions.find((r) => r.id !== execId)?.id ?? "";
      }
      if (!other) throw new Error("no other run of this graph to compare with");
      return get<Diff>(`/api/executions/${execId}/diff/${other}`);
    });
    if (result) setDiff(result);
  };
  useEffect(() => {
    setLineageTick((t) => t + 1);
  }, [ended]);

  const otherRuns = (runs.data?.executions ?? []).filter((r) => r.id !== execId);
  const meta = live?.meta;
  const waitingReviews = (reviews.data ?? []).filter((r) => !r.status || r.status === "WAITING");

  return (
    <div className="stack">
      <div className="title-row">
        <h1>
          Run <code>{execId.slice(0, 8)}</code>{" "}
          {graph.data && (
            <a href={`#/graphs/${graphId}`} className="muted">
              of {graph.data.name} v{graph.data.version}
            </a>
          )}
        </h1>
        <span className={`badge status-${status}`} data-testid="run-status">
          {status}
        </span>
        <span className="muted small" data-testid="socket-state">
          {socketState}
        </span>
        <button data-testid="run-stop" className="danger" disabled={!live || ended || action.busy} onClick={() => void stopRun()}>
          Stop
        </button>
      </div>
      <ErrorText error={loadError} />
      <ErrorText error={graph.error} />
      <ErrorText error={action.error} />
      {meta && (
        <p className="muted">
          started {formatTime(meta.started_at)} {meta.ended_at ? `· ended ${formatTime(meta.ended_at)}` : ""} · took{" "}
          {formatDuration(durationSeconds(meta.started_at, meta.ended_at)) || "…"} · cost {meta.stats?.cost ?? historic?.cost_so_far ?? 0}
          {meta.stats?.error ? <span className="error"> · {meta.stats.error}</span> : null}
        </p>
      )}
      <div className="timeline">
        <label htmlFor="timeline-scrubber">Timeline</label>
        <input
          id="timeline-scrubber"
          data-testid="timeline-scrubber"
          type="range"
          min={1}
          max={Math.max(lastSeq, 1)}
          step={1}
          value={Math.max(shownSeq, 1)}
          disabled={lastSeq < 1}
          onChange={(e) => {
            const value = Number(e.target.value);
            setScrub(value >= lastSeq ? null : value);
          }}
        />
        <span>
          seq <strong data-testid="timeline-seq">{shownSeq}</strong> / {lastSeq}
        </span>
        <span className="muted small">
          {atSeq === null ? "live" : `as of ${eventAt ? `${eventAt.type} · ${formatTime(eventAt.time)}` : `seq ${atSeq}`}`}
          {atSeq !== null && historic ? ` · ${historic.status} · cost so far ${historic.cost_so_far ?? 0}` : ""}
        </span>
        {atSeq !== null && <button onClick={() => setScrub(null)}>Live</button>}
      </div>
      <ErrorText error={historicError} />
      <div className="split">
        {graph.data ? (
          <GraphCanvas graph={graph.data} blocks={blocks} statuses={statuses} selected={selected} onNodeClick={setSelected} />
        ) : (
          <div className="canvas placeholder">{loadError ? "" : "Loading…"}</div>
        )}
        <aside className="side">
          {selected && (
            <NodeDetails
              nodeId={selected}
              blockId={graph.data?.nodes.find((n) => n.id === selected)?.block_id}
              execs={shownNodes.filter((ne) => ne.node_id === selected)}
              blocks={blocks}
              onClose={() => setSelected(null)}
            />
          )}
          {waitingReviews.length > 0 && (
            <Section title="Waiting for your review">
              <ReviewList reviews={waitingReviews} onDone={reviews.reload} />
            </Section>
          )}
          <Section title="Outputs">
            <JsonView value={(atSeq !== null ? historic?.outputs : meta?.outputs) ?? {}} />
          </Section>
          <Section title="Time travel">
            <div className="row">
              <button data-testid="run-retry" disabled={action.busy} onClick={() => void retry()}>
                Retry
              </button>
              <span className="hint">a new run reusing this run's completed nodes</span>
            </div>
            <label className="field">
              <span className="field-name">Fork at seq {shownSeq} with graph inputs (laid over the original's)</span>
              <textarea data-testid="fork-inputs" rows={3} value={forkInputs} onChange={(e) => setForkInputs(e.target.value)} />
            </label>
            <div className="row">
              <button data-testid="run-fork" disabled={action.busy || lastSeq < 1} onClick={() => void fork()}>
                Fork at seq {shownSeq}
              </button>
            </div>
            <div className="row">
              <select data-testid="diff-with" value={diffWith} onChange={(e) => setDiffWith(e.target.value)}>
                <option value="">the run it branched off, else the latest other</option>
                {otherRuns.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.id.slice(0, 8)} · {r.status} · {formatTime(r.started_at)}
                  </option>
                ))}
              </select>
              <button data-testid="run-diff" disabled={action.busy} onClick={() => void runDiff()}>
                Diff
              </button>
            </div>
          </Section>
          <Section title="Lineage">
            <Lineage execId={execId} graphId={graphId} refresh={lineageTick} />
          </Section>
        </aside>
      </div>
      {diff && (
        <Section title="Diff" actions={<button onClick={() => setDiff(null)}>×</button>}>
          <DiffView diff={diff} blocks={blocks} />
        </Section>
      )}
      <Section title="Node executions">
        <table className="list">
          <thead>
            <tr>
              <th>Node</th>
              <th>Status</th>
              <th>Took</th>
              <th>Cost</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {shownNodes.map((ne) => {
              const error = errorOf(ne);
              return (
                <tr key={ne.node_exec_id} className="clickable" onClick={() => setSelected(ne.node_id)}>
                  <td>
                    {blocks.get(ne.block_id)?.title ?? ne.block_id.slice(0, 8)} <code className="muted">{ne.node_id.slice(0, 8)}</code>
                  </td>
                  <td>
                    <StatusBadge status={ne.status} />
                  </td>
                  <td>{formatDuration(durationSeconds(ne.start_time, ne.end_time))}</td>
                  <td>{String(ne.stats?.cost ?? "")}</td>
                  <td className="error-cell">{error === undefined || error === null ? "" : typeof error === "string" ? error : JSON.stringify(error)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </Section>
      <Section title="Other runs of this graph" actions={<button onClick={runs.reload}>Refresh</button>}>
        <ErrorText error={runs.error} />
        {runs.data && <RunsTable runs={runs.data.executions} current={execId} />}
      </Section>
    </div>
  );
}

