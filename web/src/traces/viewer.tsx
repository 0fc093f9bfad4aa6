/**
 * The trace viewer, served by the trace store itself (Jaeger's `jaeger_query` extension serves these
 * files as its UI, `ui.assets_path`) and reading its query API on the same origin: a search by service,
 * operation and tags (`shop.order.id=...`), the traces found, and a trace's waterfall (the span tree with
 * each span's service, name, start and duration; failed spans marked; the tags, events and links of the
 * selected span, a link opening the linked trace).
 *
 * @module
 */
import { render } from "preact";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  formatDuration,
  type JaegerTrace,
  searchUrl,
  toViewTrace,
  type TraceQuery,
  type ViewSpan,
  type ViewTrace,
} from "./model.ts";

async function getData<T>(path: string): Promise<T> {
  const response = await fetch(path);
  const body = await response.json() as { data?: T; errors?: { msg: string }[] };
  if (!response.ok || body.data === undefined) {
    throw new Error(body.errors?.map((error) => error.msg).join("; ") || `${path}: HTTP ${response.status}`);
  }
  return body.data;
}

/** `#/trace/<id>` or `#/search?service=...`: the page and its parameters. */
function readRoute(): { page: string; id: string; params: URLSearchParams } {
  const [path = "", query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page = "search", id = ""] = path.split("/");
  return { page, id, params: new URLSearchParams(query) };
}

function useRoute() {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const changed = () => {
      setRoute(readRoute());
      requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
    };
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function Problem(props: { error: string | undefined }): JSX.Element | null {
  return props.error === undefined ? null : <p role="alert" class="problem">{props.error}</p>;
}

const lookbacks = [["15m", "last 15 minutes"], ["1h", "last hour"], ["6h", "last 6 hours"], [
  "24h",
  "last day",
]] as const;

function SearchPage(props: { params: URLSearchParams }): JSX.Element {
  const initial: TraceQuery = {
    service: props.params.get("service") ?? "",
    operation: props.params.get("operation") ?? "",
    tags: props.params.get("tags") ?? "",
    lookback: props.params.get("lookback") ?? "1h",
    limit: props.params.get("limit") ?? "20",
  };
  const [form, setForm] = useState(initial);
  const [services, setServices] = useState<string[]>([]);
  const [operations, setOperations] = useState<string[]>([]);
  const [found, setFound] = useState<ViewTrace[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    getData<string[] | null>("/api/services").then((names) => {
      const sorted = [...(names ?? [])].filter((name) => name !== "jaeger").sort();
      setServices(sorted);
      if (form.service === "" && sorted[0] !== undefined) {
        setForm((f) => ({ ...f, service: sorted[0] ?? "" }));
      }
    }, (e: unknown) => setError(String(e)));
  }, []);
  useEffect(() => {
    if (form.service === "") return;
    getData<string[] | null>(`/api/services/${encodeURIComponent(form.service)}/operations`).then(
      (names) => setOperations([...(names ?? [])].sort()),
      (e: unknown) => setError(String(e)),
    );
  }, [form.service]);
  // The search in the address runs when the page opens, so a search is a link a person can share.
  useEffect(() => {
    if (initial.service !== "") void search(initial);
  }, []);

  async function search(query: TraceQuery) {
    const url = searchUrl(query);
    if (url instanceof Error) {
      setError(url.message);
      return;
    }
    setError(undefined);
    try {
      const traces = await getData<JaegerTrace[] | null>(url);
      setFound((traces ?? []).map(toViewTrace).sort((a, b) => b.startUs - a.startUs));
    } catch (e) {
      setError(String(e));
    }
  }

  const field = (key: keyof TraceQuery) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    setForm({ ...form, [key]: event.currentTarget.value, ...(key === "service" ? { operation: "" } : {}) });

  return (
    <>
      <h1 tabIndex={-1}>Find traces</h1>
      <form
        class="search"
        onSubmit={(event) => {
          event.preventDefault();
          const params = new URLSearchParams({ ...form });
          const next = `#/search?${params}`;
          if (location.hash === next) void search(form);
          else location.hash = next;
        }}
      >
        <div class="field">
          <label for="service">Service</label>
          <select id="service" value={form.service} onChange={field("service")}>
            {services.map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="operation">Operation</label>
          <select id="operation" value={form.operation} onChange={field("operation")}>
            <option value="">all</option>
            {operations.map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="tags">Tags (key=value, space-separated)</label>
          <input
            id="tags"
            value={form.tags}
            onInput={field("tags")}
            placeholder="shop.order.id=..."
            spellcheck={false}
          />
        </div>
        <div class="field">
          <label for="lookback">Since</label>
          <select id="lookback" value={form.lookback} onChange={field("lookback")}>
            {lookbacks.map(([value, words]) => <option key={value} value={value}>{words}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="limit">At most</label>
          <input id="limit" type="number" min="1" max="500" value={form.limit} onInput={field("limit")} />
        </div>
        <button type="submit">Find traces</button>
      </form>
      <Problem error={error} />
      {found === undefined ? null : (
        <section aria-label="Traces found">
          <h2>
            {found.length === 0 ? "No trace found" : `${found.length} trace${found.length === 1 ? "" : "s"}`}
          </h2>
          <ul class="results">
            {found.map((trace) => (
              <li key={trace.traceId}>
                <a href={`#/trace/${trace.traceId}`}>{trace.title}</a>
                <span>
                  {trace.spans.length} spans · {formatDuration(trace.durationUs)} ·{" "}
                  {trace.services.join(", ")}
                  {trace.errorCount > 0 ? <strong class="failed">· {trace.errorCount} errors</strong> : null}
                </span>
                <time dateTime={new Date(trace.startUs / 1_000).toISOString()}>
                  {new Date(trace.startUs / 1_000).toLocaleString()}
                </time>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function Pairs(props: { label: string; pairs: readonly (readonly [string, string])[] }): JSX.Element {
  return (
    <table class="pairs">
      <caption>{props.label}</caption>
      <tbody>
        {props.pairs.map(([key, value], i) => (
          <tr key={`${key}-${i}`}>
            <th scope="row">{key}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SpanDetails(props: { span: ViewSpan; traceId: string }): JSX.Element {
  const { span } = props;
  return (
    <section class="details" aria-label="Selected span">
      <h2>
        {span.service} {span.name}
        {span.failed ? <strong class="failed">error</strong> : null}
      </h2>
      <p>
        Starts at {formatDuration(span.startOffsetUs)}, takes {formatDuration(span.durationUs)}; span{" "}
        {span.spanId}
      </p>
      <Pairs label="Tags" pairs={span.tags} />
      {span.events.length === 0 ? null : (
        <>
          <h3>Events</h3>
          <ul>
            {span.events.map((event, i) => (
              <li key={i}>
                {formatDuration(event.offsetUs)} {event.name}
                <Pairs label={`${event.name} attributes`} pairs={event.attributes} />
              </li>
            ))}
          </ul>
        </>
      )}
      {span.links.length === 0 ? null : (
        <>
          <h3>Links</h3>
          <ul>
            {span.links.map((link) => (
              <li key={`${link.traceId}-${link.spanId}`}>
                {link.traceId === props.traceId
                  ? `span ${link.spanId} of this trace`
                  : <a href={`#/trace/${link.traceId}`}>trace {link.traceId} (span {link.spanId})</a>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function Waterfall(props: { trace: ViewTrace }): JSX.Element {
  const { trace } = props;
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const total = Math.max(trace.durationUs, 1);
  const span = trace.spans.find((s) => s.spanId === selected);
  return (
    <>
      <ol class="waterfall" aria-label="Spans">
        {trace.spans.map((s) => (
          <li key={s.spanId} class={s.failed ? "failed-row" : undefined} data-depth={s.depth}>
            <button
              type="button"
              aria-pressed={s.spanId === selected}
              onClick={() =>
                setSelected(s.spanId === selected ? undefined : s.spanId)}
              style={{ paddingLeft: `${0.25 + s.depth * 0.9}rem` }}
            >
              <span class="service">{s.service}</span> <span class="name">{s.name}</span>
              {s.failed ? <strong class="failed">error</strong> : null}
              <span class="duration">{formatDuration(s.durationUs)}</span>
            </button>
            <div class="track" aria-hidden="true">
              <div
                class="bar"
                style={{
                  left: `${(s.startOffsetUs / total) * 100}%`,
                  width: `${Math.max((s.durationUs / total) * 100, 0.3)}%`,
                }}
              />
            </div>
          </li>
        ))}
      </ol>
      {span === undefined
        ? <p>Choose a span to see its tags, events and links.</p>
        : <SpanDetails span={span} traceId={trace.traceId} />}
    </>
  );
}

function TracePage(props: { id: string }): JSX.Element {
  const [trace, setTrace] = useState<ViewTrace | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    setTrace(undefined);
    setError(undefined);
    getData<JaegerTrace[]>(`/api/traces/${encodeURIComponent(props.id)}`).then((traces) => {
      const first = traces[0];
      if (first === undefined) setError(`trace ${props.id} not found`);
      else setTrace(toViewTrace(first));
    }, (e: unknown) => setError(String(e)));
  }, [props.id]);
  return (
    <>
      <h1 tabIndex={-1}>{trace === undefined ? `Trace ${props.id}` : trace.title}</h1>
      <Problem error={error} />
      {trace === undefined ? (error === undefined ? <p>Loading…</p> : null) : (
        <>
          <p class="summary">
            Trace {trace.traceId}: {trace.spans.length} spans in {formatDuration(trace.durationUs)} across
            {" "}
            {trace.services.join(", ")}, started {new Date(trace.startUs / 1_000).toLocaleString()}
            {trace.errorCount > 0 ? <strong class="failed">; {trace.errorCount} spans failed</strong> : null}
          </p>
          <Waterfall key={trace.traceId} trace={trace} />
        </>
      )}
    </>
  );
}

function App(): JSX.Element {
  const route = useRoute();
  return (
    <>
      <header>
        <nav aria-label="Trace viewer">
          <a class="brand" href="#/search">shop traces</a>
          <a href="#/search">Search</a>
        </nav>
      </header>
      <main>
        {route.page === "trace" && route.id !== ""
          ? <TracePage id={route.id} />
          : <SearchPage key={route.params.toString()} params={route.params} />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
