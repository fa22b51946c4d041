import { defineConfig } from "vite";

// The bundle is committed in ../static and served by services/monitor/serve.py at / and /assets/.
// No plugins: Vite transforms TSX itself (no fast refresh needed), which keeps the lockfile small
// and the output reproducible (content-hashed names, no timestamps).
export default defineConfig({
  base: "/",
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
