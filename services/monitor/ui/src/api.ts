// The API client: the bearer token (localStorage), JSON calls whose errors carry the API's
// `detail` text, and the AutoGPT WebSocket (`/ws?token=…`) with `after_seq` resumption.

const TOKEN_KEY = "agentloom.monitor.token";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token.trim());
  window.dispatchEvent(new Event("agentloom:token"));
}

export function clearToken(): void {
  localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("agentloom:token"));
}

/** `#token=<JWT>` (the login link `agentloom up` prints): store it and strip it from the URL. */
export function takeTokenFromLocation(): void {
  const hash = window.location.hash;
  const match = /^#(?:\/?\?)?token=([^&]+)(?:&next=([^&]*))?/.exec(hash);
  if (!match) return;
  setToken(decodeURIComponent(match[1]));
  const next = match[2] ? decodeURIComponent(match[2]) : "/";
  history.replaceState(null, "", window.location.pathname + window.location.search + "#" + next);
  window.dispatchEvent(new HashChangeEvent("hashchange")); // replaceState fires none: tell the router
}

/** The token's `sub` (the user id), read without verifying: the API verifies it. */
export function tokenSubject(token: string | null): string | null {
  if (!token) return null;
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const claims = JSON.parse(text) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

/** FastAPI's `detail`: a string, a list of validation errors, or an object. */
export function detailText(detail: unknown): string {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        if (item && typeof item === "object" && "msg" in item) {
          const loc = Array.isArray((item as { loc?: unknown[] }).loc) ? (item as { loc: unknown[] }).loc.join(".") : "";
          return `${loc ? loc + ": " : ""}${String((item as { msg: unknown }).msg)}`;
        }
        return JSON.stringify(item);
      })
      .join("; ");
  }
  if (detail && typeof detail === "object") {
    const obj = detail as Record<string, unknown>;
    if (typeof obj.message === "string") {
      const rest = Object.keys(obj).filter((k) => k !== "message");
      return rest.length ? `${obj.message} ${JSON.stringify(Object.fromEntries(rest.map((k) => [k, obj[k]])))}` : obj.message;
    }
    return JSON.stringify(detail);
  }
  return String(detail);
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `the API cannot be reached (${errorText(error)})`);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const detail =
      data && typeof data === "object" && "detail" in (data as object) ? (data as { detail: unknown }).detail : data;
    const hint = response.status === 401 ? " (the token was refused: sign out and sign in with a fresh one)" : "";
    throw new ApiError(response.status, `${response.status}: ${detailText(detail) || response.statusText}${hint}`);
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

export interface WsMessage {
  method: string;
  data: unknown;
  success?: boolean | null;
  channel?: string | null;
  error?: string | null;
}

/** Watch one execution: subscribe for every event after `afterSeq` (and after the last one seen, on a reconnect), call `onMessage` for every
 * pushed event, reconnect with backoff while not closed. Returns the closer. */
export function watchExecution(
  graphExecId: string,
  afterSeq: number,
  onMessage: (msg: WsMessage) => void,
  onState: (state: "connecting" | "live" | "closed" | string) => void,
): () => void {
  let socket: WebSocket | null = null;
  let closed = false;
  let lastSeq = afterSeq;
  let delay = 500;
  let timer: number | undefined;
  let heartbeat: number | undefined;

  const connect = () => {
    const token = getToken();
    if (closed || !token) return;
    onState("connecting");
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws?token=${encodeURIComponent(token)}`);
    socket.onopen = () => {
      delay = 500;
      const data: Record<string, unknown> = { graph_exec_id: graphExecId, after_seq: lastSeq };
      socket?.send(JSON.stringify({ method: "subscribe_graph_execution", data }));
      heartbeat = window.setInterval(() => socket?.send(JSON.stringify({ method: "heartbeat", data: "ping" })), 20000);
    };
    socket.onmessage = (event) => {
      let msg: WsMessage;
      try {
        msg = JSON.parse(String(event.data)) as WsMessage;
      } catch {
        return;
      }
      if (msg.method === "subscribe_graph_execution") {
        onState(msg.success ? "live" : `refused: ${msg.error ?? "unknown"}`);
        return;
      }
      const seq = (msg.data as { seq?: unknown } | null)?.seq;
      if (typeof seq === "number" && seq > lastSeq) lastSeq = seq;
      onMessage(msg);
    };
    socket.onclose = (event) => {
      window.clearInterval(heartbeat);
      if (closed) return;
      if (event.code >= 4001 && event.code <= 4003) {
        onState(`closed: ${event.reason || "bad token"}`);
        return;
      }
      onState("reconnecting");
      timer = window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  connect();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    window.clearInterval(heartbeat);
    socket?.close();
    onState("closed");
  };
}
