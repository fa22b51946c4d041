import { defineConfig } from "vite";

// The bundle is committed in ../static and served by services/monitor/serve.py at / and /assets/.
// No plugins: Vite transforms TSX itself (no fast refresh needed), which keeps the lockfile small
// and the output reproducible (content-hashed names, no timestamps).
// `npm run dev`: the sources on Vite's port, the API proxied to AGENTLOOM_URL (default: the local stack).
declare const process: { env: Record<string, string | undefined> }; // no @types/node needed for one read
const api = process.env.AGENTLOOM_URL ?? "http://127.0.0.1:8006";

export default defineConfig({
  base: "/",
  server: {
    proxy: {
      "/api": api,
      "/health": api,
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "../static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 1000,
  },
});
