// Hash routing (`/#/graphs/<id>/runs/<exec>`): the server only ever serves `/`.
import { useEffect, useState } from "react";

export function currentPath(): string {
  const hash = window.location.hash.replace(/^#/, "");
  return hash.startsWith("/") ? hash : "/" + hash;
}

export function navigate(path: string): void {
  window.location.hash = "#" + path;
}

export function useHashPath(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return path;
}

export type Route =
  | { page: "graphs" }
  | { page: "graph"; graphId: string }
  | { page: "run"; graphId: string; execId: string }
  | { page: "runs" }
  | { page: "reviews" }
  | { page: "credits" }
  | { page: "schedules" }
  | { page: "presets" }
  | { page: "missing"; path: string };

export function parseRoute(path: string): Route {
  const parts = path.split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "graphs")) return { page: "graphs" };
  if (parts[0] === "graphs" && parts.length === 2) return { page: "graph", graphId: parts[1] };
  if (parts[0] === "graphs" && parts.length === 4 && parts[2] === "runs")
    return { page: "run", graphId: parts[1], execId: parts[3] };
  if (parts.length === 1 && ["runs", "reviews", "credits", "schedules", "presets"].includes(parts[0]))
    return { page: parts[0] as "runs" | "reviews" | "credits" | "schedules" | "presets" };
  return { page: "missing", path };
}
