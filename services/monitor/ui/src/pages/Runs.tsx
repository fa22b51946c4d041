import { ErrorText, Section } from "../components/Bits";
import { RunsTable } from "../components/RunsTable";
import { useGet } from "../hooks";
import type { Execution } from "../types";

export function RunsPage() {
  const runs = useGet<Execution[]>("/api/executions");
  return (
    <Section title="All runs" actions={<button onClick={runs.reload}>Refresh</button>}>
      <ErrorText error={runs.error} />
      {runs.data && <RunsTable runs={[...runs.data].sort((a, b) => (b.started_at ?? "").localeCompare(a.started_at ?? ""))} />}
    </Section>
  );
}
