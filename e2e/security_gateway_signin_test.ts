/**
 * Issue 17, item 2: the gateway's sign-in limit holds for login and register whatever the spelling of the
 * path (a query string, a trailing slash, percent-encoded characters, doubled slashes), the protocol (REST,
 * gRPC, gRPC-Web, Connect) and the HTTP version. A spelling either reaches the user service and is counted,
 * or is refused before any route takes it (404, or 400 for what Envoy will not parse).
 *
 * "Reached the user service" is read from Envoy's own count of requests sent to the `user` cluster, so an
 * answer the service might give (its own throttle, a validation error) cannot be mistaken for the gateway's.
 */
import assert from "node:assert/strict";
import { type GatewayStack, startGatewayStack } from "../envoy/testdata/gateway_stack.ts";

const signIn = { rate: 1, burst: 2 };
/** Requests per spelling, all at once from one address: far more than the burst. */
const attempts = 10;

type Protocol = "rest" | "connect" | "grpc-web" | "grpc";
type HttpVersion = "1.1" | "2";

interface Spelling {
  name: string;
  path: string;
}

/** The ways of writing a method's gRPC path `/<service>/<Method>` that an attacker would try. */
function grpcSpellings(service: string, method: string): Spelling[] {
  const first = method.charCodeAt(0).toString(16).toUpperCase();
  return [
    { name: "as is", path: `/${service}/${method}` },
    { name: "query string", path: `/${service}/${method}?x=1` },
    { name: "trailing slash", path: `/${service}/${method}/` },
    { name: "trailing slash and query", path: `/${service}/${method}/?x=1` },
    { name: "percent-encoded letter", path: `/${service}/%${first}${method.slice(1)}` },
    { name: "percent-encoded dot", path: `/${service.replace(".", "%2E")}/${method}` },
    { name: "percent-encoded slash", path: `/${service}%2F${method}` },
    { name: "doubled slash", path: `/${service}//${method}` },
    { name: "lower case", path: `/${service}/${method}`.toLowerCase() },
  ];
}

/** The same for a REST path such as `/v1/auth:login`. */
function restSpellings(path: string): Spelling[] {
  const [resource = "", verb = ""] = path.split(":");
  return [
    { name: "as is", path },
    { name: "query string", path: `${path}?x=1` },
    { name: "trailing slash", path: `${path}/` },
    { name: "percent-encoded colon", path: `${resource}%3A${verb}` },
    {
      name: "percent-encoded letter",
      path: `${resource}:%${verb.charCodeAt(0).toString(16)}${verb.slice(1)}`,
    },
    { name: "doubled slash", path: `/${path}` },
  ];
}

const methods = [
  { name: "login", service: "shop.user.v1.AuthService", method: "Login", rest: "/v1/auth:login" },
  {
    name: "register",
    service: "shop.user.v1.UserService",
    method: "RegisterUser",
    rest: "/v1/users:register",
  },
];

/** An empty protobuf message in a gRPC frame: the service refuses it (INVALID_ARGUMENT) without scrypt. */
const emptyFrame = new Uint8Array(5);

let registered = 0;

/** A request the service answers with a status of its own: a wrong password, or a new account. */
function request(protocol: Protocol, method: string): { headers: Record<string, string>; body: BodyInit } {
  switch (protocol) {
    case "rest":
    case "connect":
      return {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(
          method === "login" ? { email: "nobody@example.com", password: "not the password" } : {
            email: `new-${registered++}@example.com`,
            password: "correct horse battery",
            displayName: "N",
          },
        ),
      };
    case "grpc-web":
      return {
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: emptyFrame,
      };
    case "grpc":
      return { headers: { "content-type": "application/grpc", te: "trailers" }, body: emptyFrame };
  }
}

/**
 * What one answer says: refused by the limit; refused as no route (404, UNIMPLEMENTED) or as a path Envoy
 * will not take (400, which gRPC clients see as INTERNAL); or anything else (the service answered).
 */
type Outcome = "limited" | "refused" | "other";

function outcomeOf(status: number, headers: Headers): Outcome {
  const grpcStatus = headers.get("grpc-status");
  if (status === 429 || grpcStatus === "8") return "limited";
  if (status === 404 || status === 400 || grpcStatus === "12" || grpcStatus === "13") return "refused";
  return "other";
}

/** Requests Envoy has sent to the user service, from its Prometheus stats (what Prometheus scrapes). */
async function upstreamRequests(stack: GatewayStack): Promise<number> {
  const text = await (await fetch(`${stack.envoy.adminUrl}/stats/prometheus`)).text();
  const line = text.split("\n").find((l) =>
    l.startsWith("envoy_cluster_upstream_rq_total{") && l.includes('envoy_cluster_name="user"')
  );
  return Number(line?.split(" ").at(-1) ?? 0);
}

let nextAddress = 10;
function freshAddress(): string {
  const n = nextAddress++;
  return `127.0.${Math.floor(n / 250) + 20}.${(n % 250) + 2}`;
}

Deno.test("the sign-in limit holds for every spelling, protocol and HTTP version of login and register", async (t) => {
  await using stack = await startGatewayStack({
    label: "security_signin",
    settings: (s) => ({ ...s, limits: { ...s.limits, signIn } }),
  });
  const combos: Array<{ protocol: Protocol; version: HttpVersion }> = [
    { protocol: "rest", version: "1.1" },
    { protocol: "rest", version: "2" },
    { protocol: "connect", version: "1.1" },
    { protocol: "connect", version: "2" },
    { protocol: "grpc-web", version: "1.1" },
    { protocol: "grpc-web", version: "2" },
    { protocol: "grpc", version: "2" },
  ];
  for (const method of methods) {
    for (const { protocol, version } of combos) {
      await t.step(`${method.name} over ${protocol}, HTTP/${version}`, async () => {
        const spellings = protocol === "rest"
          ? restSpellings(method.rest)
          : grpcSpellings(method.service, method.method);
        const failures: string[] = [];
        for (const spelling of spellings) {
          const address = freshAddress();
          const client = Deno.createHttpClient({
            caCerts: [stack.ca],
            localAddress: address,
            http1: version === "1.1",
            http2: version === "2",
          });
          try {
            const before = await upstreamRequests(stack);
            const started = Date.now();
            const outcomes = await Promise.all(Array.from({ length: attempts }, async () => {
              const { headers, body } = request(protocol, method.name);
              const response = await fetch(`${stack.url}${spelling.path}`, {
                method: "POST",
                client,
                headers,
                body,
              });
              await response.body?.cancel();
              return outcomeOf(response.status, response.headers);
            }));
            const seconds = (Date.now() - started) / 1000;
            const reached = (await upstreamRequests(stack)) - before;
            // What a bucket of `burst` refilled at `rate` lets through in the time the attempts took.
            const allowed = signIn.burst + Math.ceil(signIn.rate * seconds);
            const counts = Object.groupBy(outcomes, (o) => o);
            const shown = `${spelling.name} (${spelling.path}): ${reached} reached the service in ${
              seconds.toFixed(1)
            } s; answers ${
              JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v?.length])))
            }`;
            if (reached > allowed) failures.push(`${shown}: more than the ${allowed} the limit allows`);
            // What did not reach the service was refused by the limit or by routing, never served otherwise.
            const unexplained = outcomes.filter((o) => o === "other").length - reached;
            if (unexplained > 0) failures.push(`${shown}: ${unexplained} answers neither limited nor routed`);
            if (reached === 0 && (counts["limited"]?.length ?? 0) > 0) {
              failures.push(`${shown}: limited although nothing reached the service`);
            }
          } finally {
            client.close();
          }
        }
        assert.deepEqual(failures, []);
      });
    }
  }

  await t.step("another address is not limited by them", async () => {
    const client = Deno.createHttpClient({ caCerts: [stack.ca], localAddress: freshAddress() });
    try {
      const response = await fetch(`${stack.url}/v1/auth:login`, {
        method: "POST",
        client,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "boss@example.com", password: "a long admin secret" }),
      });
      assert.equal(response.status, 200, await response.text());
    } finally {
      client.close();
    }
  });
});
