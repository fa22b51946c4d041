// The API's shapes the monitor reads (AutoGPT's models; only the fields used here).

export type Json = unknown;

export interface Link {
  id?: string;
  source_id: string;
  sink_id: string;
  source_name: string;
  sink_name: string;
  is_static?: boolean;
}

export interface GraphNode {
  id: string;
  block_id: string;
  input_default: Record<string, Json>;
  metadata?: { position?: { x: number; y: number } } & Record<string, Json>;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: Json[];
  default?: Json;
  format?: string;
  secret?: boolean;
  advanced?: boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  credentials_provider?: string[];
  credentials_types?: string[];
  [key: string]: Json;
}

export interface Graph {
  id: string;
  version: number;
  is_active?: boolean;
  name: string;
  description: string;
  nodes: GraphNode[];
  links: Link[];
  input_schema: JsonSchema;
  credentials_input_schema: JsonSchema;
  created_at?: string;
}

export interface ExecutionStats {
  cost?: number;
  duration?: number;
  error?: string | null;
  node_exec_count?: number;
}

export interface Execution {
  id: string;
  graph_id: string;
  graph_version: number;
  status: string;
  inputs: Record<string, Json> | null;
  started_at: string | null;
  ended_at: string | null;
  stats: ExecutionStats | null;
  preset_id?: string | null;
  parent_graph_exec_id?: string | null;
  outputs?: Record<string, Json[]>;
  node_executions?: NodeExecution[];
  seq?: number;
  cost_so_far?: number;
}

export interface NodeExecution {
  node_exec_id: string;
  node_id: string;
  block_id: string;
  status: string;
  input_data: Record<string, Json> | null;
  output_data: Record<string, Json[]> | null;
  add_time: string | null;
  queue_time: string | null;
  start_time: string | null;
  end_time: string | null;
  stats: Record<string, Json> | null;
  seq?: number;
}

export interface Block {
  id: string;
  name: string; // the class name AutoGPT uses as the block's name, e.g. "AgentInputBlock"
  title: string; // what the monitor shows: "Agent Input" (set by useBlocks)
  description?: string;
}

export interface Credential {
  id: string;
  provider: string;
  type: string;
  title: string | null;
}

export interface AuditEvent {
  seq: number;
  type: string;
  time: string;
  payload: Record<string, Json>;
  cause: number | null;
}

export interface LibraryAgent {
  id: string;
  graph_id: string;
  graph_version: number;
  name: string;
  description: string;
  updated_at?: string;
}

export interface PendingReview {
  node_exec_id: string;
  graph_exec_id: string;
  graph_id?: string;
  kind?: string;
  instructions?: string | null;
  payload?: Json;
  status?: string;
}
