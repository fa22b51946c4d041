// A graph drawn with React Flow: stored positions (`metadata.position`) when every node has one,
// else a left-to-right layering by longest path; node label = block name; colour = status.
import { useEffect, useMemo } from "react";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  useNodesState,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { Block, Graph, GraphNode } from "../types";

type BlockNodeData = { label: string; nodeId: string; detail: string; status?: string; selected?: boolean };
type BlockNode = Node<BlockNodeData, "block">;

function BlockNodeView({ data }: NodeProps<BlockNode>) {
  const status = data.status || undefined;
  return (
    <div
      className={`flow-node${status ? " status-" + status : ""}${data.selected ? " picked" : ""}`}
      data-testid={`node-${data.nodeId}`}
      data-status={status}
      title={data.nodeId}
    >
      <Handle type="target" position={Position.Left} />
      <div className="flow-node-label">{data.label}</div>
      {data.detail ? <div className="flow-node-detail">{data.detail}</div> : null}
      {status ? <div className="flow-node-status">{status}</div> : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const nodeTypes = { block: BlockNodeView };

function layout(graph: Graph): Map<string, { x: number; y: number }> {
  const stored = new Map<string, { x: number; y: number }>();
  for (const node of graph.nodes) {
    const p = node.metadata?.position;
    if (p && typeof p.x === "number" && typeof p.y === "number") stored.set(node.id, { x: p.x, y: p.y });
  }
  if (stored.size === graph.nodes.length && graph.nodes.length > 0) {
    // Nodes stacked on one spot (e.g. all at 0,0) would hide each other: lay those out instead.
    const spots = new Set([...stored.values()].map((p) => `${p.x},${p.y}`));
    if (spots.size === stored.size) return stored;
  }
  const ids = graph.nodes.map((n) => n.id);
  const incoming = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const link of graph.links) {
    if (incoming.has(link.sink_id) && incoming.has(link.source_id) && link.sink_id !== link.source_id)
      incoming.get(link.sink_id)!.push(link.source_id);
  }
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: break it here
    visiting.add(id);
    const d = Math.max(-1, ...incoming.get(id)!.map(depthOf)) + 1;
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const rows = new Map<number, number>();
  const out = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    const d = depthOf(id);
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    out.set(id, { x: d * 280, y: row * 130 });
  }
  return out;
}

function nodeDetail(node: GraphNode): string {
  const name = node.input_default?.name;
  return typeof name === "string" ? name : "";
}

export function GraphCanvas(props: {
  graph: Graph;
  blocks: Map<string, Block>;
  statuses?: Map<string, string>;
  selected?: string | null;
  onNodeClick?: (nodeId: string) => void;
}) {
  const { graph, blocks, statuses, selected, onNodeClick } = props;
  const positions = useMemo(() => layout(graph), [graph]);
  const built: BlockNode[] = useMemo(
    () =>
      graph.nodes.map((node) => ({
        id: node.id,
        type: "block",
        position: positions.get(node.id) ?? { x: 0, y: 0 },
        data: {
          label: blocks.get(node.block_id)?.title ?? node.block_id.slice(0, 8),
          nodeId: node.id,
          detail: nodeDetail(node),
          status: statuses?.get(node.id),
          selected: selected === node.id,
        },
      })),
    [graph, blocks, positions, statuses, selected],
  );
  // Controlled nodes: React Flow's measured sizes are kept in them (onNodesChange), so a status
  // update replaces only `data` and never leaves a node unmeasured (hidden) until it resizes.
  const [nodes, setNodes, onNodesChange] = useNodesState<BlockNode>(built);
  useEffect(() => {
    setNodes((old) => {
      const previous = new Map(old.map((n) => [n.id, n]));
      return built.map((n) => ({ ...previous.get(n.id), ...n }));
    });
  }, [built, setNodes]);
  const edges: Edge[] = useMemo(
    () =>
      graph.links.map((link, i) => ({
        id: link.id ?? `link-${i}`,
        source: link.source_id,
        target: link.sink_id,
        label: `${link.source_name} → ${link.sink_name}`,
        markerEnd: { type: MarkerType.ArrowClosed },
        animated: statuses?.get(link.source_id) === "RUNNING",
      })),
    [graph, statuses],
  );
  return (
    <div className="canvas">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        fitView
        nodesConnectable={false}
        nodesDraggable={false}
        elementsSelectable
        onNodeClick={(_, node) => onNodeClick?.(node.id)}
        minZoom={0.1}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
