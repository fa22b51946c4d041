// The run form: one field per `input_schema` property, one credentials picker per
// `credentials_input_schema` property; runs (or schedules) the graph version.
import { useMemo, useState } from "react";
import { post } from "../api";
import { useAction, useGet } from "../hooks";
import { navigate } from "../router";
import type { Credential, Execution, Graph, JsonSchema } from "../types";
import { ErrorText } from "./Bits";

function schemaType(schema: JsonSchema): string | undefined {
  if (typeof schema.type === "string") return schema.type;
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  const option = schema.anyOf?.find((s) => s.type && s.type !== "null");
  return option ? schemaType(option) : undefined;
}

function initial(schema: JsonSchema): string | boolean {
  const type = schemaType(schema);
  const value = schema.default;
  if (type === "boolean") return value === true;
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The typed value of a field's text ("" = not given). Untyped inputs take JSON when the text is
 * JSON (5, true, {"a": 1}) and the text itself otherwise, as AutoGPT's "any" inputs do. */
function convert(name: string, schema: JsonSchema, raw: string | boolean): unknown {
  const type = schemaType(schema);
  if (type === "boolean") return raw === true;
  const text = String(raw);
  if (text === "") return undefined;
  if (type === "string") return text;
  if (type === "number" || type === "integer") {
    const n = Number(text);
    if (Number.isNaN(n)) throw new Error(`${name}: not a number`);
    return n;
  }
  try {
    return JSON.parse(text);
  } catch {
    if (type === "object" || type === "array") throw new Error(`${name}: expected JSON (${type})`);
    return text;
  }
}

function Field(props: { name: string; schema: JsonSchema; required: boolean; value: string | boolean; set: (v: string | boolean) => void }) {
  const { name, schema, required, value, set } = props;
  const type = schemaType(schema);
  const id = `run-input-${name}`;
  let control;
  if (Array.isArray(schema.enum)) {
    control = (
      <select id={id} data-testid={id} value={String(value)} onChange={(e) => set(e.target.value)}>
        <option value="">—</option>
        {schema.enum.map((option) => (
          <option key={String(option)} value={typeof option === "string" ? option : JSON.stringify(option)}>
            {String(option)}
          </option>
        ))}
      </select>
    );
  } else if (type === "boolean") {
    control = <input id={id} data-testid={id} type="checkbox" checked={value === true} onChange={(e) => set(e.target.checked)} />;
  } else if (type === "object" || type === "array" || schema.format === "long-text") {
    control = <textarea id={id} data-testid={id} rows={3} value={String(value)} onChange={(e) => set(e.target.value)} />;
  } else {
    control = (
      <input
        id={id}
        data-testid={id}
        type={schema.secret ? "password" : type === "number" || type === "integer" ? "number" : "text"}
        step={type === "number" ? "any" : undefined}
        value={String(value)}
        onChange={(e) => set(e.target.value)}
      />
    );
  }
  return (
    <label className="field" htmlFor={id}>
      <span className="field-name">
        {schema.title || name}
        {required ? " *" : ""}
        {type ? <span className="muted"> ({type})</span> : null}
      </span>
      {control}
      {schema.description ? <span className="hint">{schema.description}</span> : null}
    </label>
  );
}

export function RunForm({ graph }: { graph: Graph }) {
  const props = graph.input_schema?.properties ?? {};
  const required = new Set(graph.input_schema?.required ?? []);
  const credProps = graph.credentials_input_schema?.properties ?? {};
  const hasCreds = Object.keys(credProps).length > 0;
  const creds = useGet<Credential[]>(hasCreds ? "/api/integrations/credentials" : null);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(Object.entries(props).map(([k, s]) => [k, initial(s)])),
  );
  const [picked, setPicked] = useState<Record<string, string>>({});
  const [scheduleName, setScheduleName] = useState("");
  const [cron, setCron] = useState("");
  const [scheduled, setScheduled] = useState<string | null>(null);
  const action = useAction();

  const choices = useMemo(() => {
    const out: Record<string, Credential[]> = {};
    for (const [name, schema] of Object.entries(credProps)) {
      const providers = schema.credentials_provider ?? [];
      const types = schema.credentials_types ?? [];
      out[name] = (creds.data ?? []).filter(
        (c) => (providers.length === 0 || providers.includes(c.provider)) && (types.length === 0 || types.includes(c.type)),
      );
    }
    return out;
  }, [credProps, creds.data]);

  // a picker with exactly one matching credential starts on it (as AutoGPT's run form does)
  const pickOf = (name: string): string =>
    picked[name] ?? (choices[name]?.length === 1 ? choices[name][0].id : "");

  const body = () => {
    const inputs: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(props)) {
      const value = convert(name, schema, values[name] ?? "");
      if (value !== undefined) inputs[name] = value;
    }
    const credentials: Record<string, unknown> = {};
    for (const name of Object.keys(credProps)) {
      const id = pickOf(name);
      const c = (creds.data ?? []).find((x) => x.id === id);
      if (c) credentials[name] = { id: c.id, provider: c.provider, type: c.type, title: c.title };
    }
    return { inputs, credentials };
  };

  const run = async () => {
    const started = await action.run(async () => {
      const { inputs, credentials } = body();
      return post<Execution>(`/api/graphs/${graph.id}/execute/${graph.version}`, { inputs, credentials_inputs: credentials });
    });
    if (started) navigate(`/graphs/${graph.id}/runs/${started.id}`);
  };

  const schedule = async () => {
    setScheduled(null);
    const created = await action.run(async () => {
      const { inputs, credentials } = body();
      return post<{ id: string; next_run_time?: string }>(`/api/graphs/${graph.id}/schedules`, {
        graph_version: graph.version,
        name: scheduleName || graph.name,
        cron,
        inputs,
        credentials,
      });
    });
    if (created) setScheduled(`scheduled (${created.id}); next run ${created.next_run_time ?? "?"}`);
  };

  return (
    <form
      className="run-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      {Object.keys(props).length === 0 && <p className="hint">This graph takes no inputs.</p>}
      {Object.entries(props).map(([name, schema]) => (
        <Field
          key={name}
          name={name}
          schema={schema}
          required={required.has(name)}
          value={values[name] ?? ""}
          set={(v) => setValues((old) => ({ ...old, [name]: v }))}
        />
      ))}
      {Object.entries(credProps).map(([name, schema]) => (
        <label className="field" key={name}>
          <span className="field-name">
            {schema.title || name} <span className="muted">(credentials: {(schema.credentials_provider ?? []).join(", ")})</span>
          </span>
          <select
            data-testid={`run-credentials-${name}`}
            value={pickOf(name)}
            onChange={(e) => setPicked((old) => ({ ...old, [name]: e.target.value }))}
          >
            <option value="">— none —</option>
            {(choices[name] ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.title || c.id} ({c.provider}, {c.type})
              </option>
            ))}
          </select>
        </label>
      ))}
      <ErrorText error={creds.error} />
      <div className="row">
        <button data-testid="run-submit" type="submit" disabled={action.busy}>
          {action.busy ? "Starting…" : `Run v${graph.version}`}
        </button>
      </div>
      <details>
        <summary>Schedule with these inputs</summary>
        <div className="row">
          <input placeholder="name" value={scheduleName} onChange={(e) => setScheduleName(e.target.value)} />
          <input placeholder="cron, e.g. */5 * * * *" data-testid="schedule-cron" value={cron} onChange={(e) => setCron(e.target.value)} />
          <button type="button" data-testid="schedule-submit" disabled={action.busy || !cron} onClick={() => void schedule()}>
            Schedule
          </button>
        </div>
        {scheduled && <p className="ok">{scheduled}</p>}
      </details>
      <ErrorText error={action.error} />
    </form>
  );
}
