import { useCallback, useEffect, useRef, useState } from "react";
import { errorText, get } from "./api";
import type { Block } from "./types";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** GET `path` (again when it changes or on `reload`); null path loads nothing. */
export function useGet<T>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setLoading(true);
    get<T>(path)
      .then((value) => {
        if (live) {
          setData(value);
          setError(null);
        }
      })
      .catch((e) => live && setError(errorText(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

let blockCache: Promise<Map<string, Block>> | null = null;

/** The block catalogue by id (loaded once per page load). */
/** "AgentInputBlock" → "Agent Input", "AITextGeneratorBlock" → "AI Text Generator": the class name
 * with its "Block" suffix dropped and its words spaced, as AutoGPT's builder shows blocks. */
export function blockTitle(name: string): string {
  return name
    .replace(/Block$/, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .trim() || name;
}

export function useBlocks(): Map<string, Block> {
  const [blocks, setBlocks] = useState<Map<string, Block>>(new Map());
  useEffect(() => {
    if (!blockCache) {
      blockCache = get<Block[]>("/api/blocks").then(
        (list) => new Map(list.map((b) => [b.id, { ...b, title: blockTitle(b.name) }])),
      );
      blockCache.catch(() => {
        blockCache = null;
      });
    }
    let live = true;
    blockCache.then((map) => live && setBlocks(map)).catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  return blocks;
}

/** Run `fn` and keep its error text and busy flag for a button. */
export function useAction(): {
  busy: boolean;
  error: string | null;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
  setError: (e: string | null) => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const run = useCallback(async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      if (mounted.current) setError(errorText(e));
      return undefined;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  return { busy, error, run, setError };
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function durationSeconds(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start || !end) return null;
  const ms = new Date(end).getTime() - new Date(start).getTime();
  return isNaN(ms) ? null : ms / 1000;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
