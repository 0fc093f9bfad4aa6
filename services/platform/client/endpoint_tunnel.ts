/**
 * A loopback HTTP CONNECT relay to one endpoint, so that Deno's `fetch` can call an instance by its
 * address (a pod IP) while checking its certificate against the service's name.
 *
 * Deno's `fetch` verifies the server's certificate against the URL's host and offers no way to dial
 * one address and verify another name (no `servername`, no resolver; its `tcp` proxy transport sends
 * plain text). Through an HTTP proxy it opens a CONNECT tunnel and runs TLS inside it against the URL's
 * host. So a transport asks for `https://<identity>:<port>/...` through this relay, which connects only
 * to the endpoint it was made for: TLS (SNI, chain to the shop CA, and the host name check against the
 * identity's DNS SAN) runs end to end between `fetch` and the callee, and the relay sees ciphertext.
 *
 * @module
 */

/** An open relay: the proxy URL to give `Deno.createHttpClient`, and how to close it. */
export interface EndpointTunnel {
  /** `http://127.0.0.1:<port>`: the relay's listener. */
  readonly proxyUrl: string;
  /** Stops listening and closes every relayed connection. */
  close(): void;
}

/** Options of {@linkcode openEndpointTunnel}. */
export interface EndpointTunnelOptions {
  /** The endpoint's address (an IP or a host name; IPv6 with or without brackets). */
  hostname: string;
  /** The endpoint's port. */
  port: number;
  /** The only CONNECT target the relay accepts: `<identity>:<port>`, the authority of the calls' URLs. */
  authority: string;
}

/**
 * The status line the relay answers when the endpoint refused the connection: `fetch` then fails with
 * "client error (Connect): unsuccessful tunnel", which `neverReachedServer` counts as never sent.
 */
const tunnelRefusedStatus = "502 Endpoint Unreachable";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const maxHeadBytes = 8_192;

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** Writes every byte (a socket may take fewer than it is given). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
}

/**
 * Copies what `from` sends to `to` until `from` ends, through one buffer: plain reads and writes, not
 * the web streams of `pipeTo`, whose machinery per chunk cost more than the relaying itself.
 */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) return;
    await writeAll(to, buffer.subarray(0, n));
  }
}

/** Reads the request head (up to the blank line); returns it and any bytes that came after it. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array } | undefined> {
  const buffer = new Uint8Array(maxHeadBytes);
  let length = 0;
  while (length < maxHeadBytes) {
    const n = await conn.read(buffer.subarray(length));
    if (n === null) return undefined;
    length += n;
    for (let i = 3; i < length; i++) {
      if (buffer[i - 3] === 13 && buffer[i - 2] === 10 && buffer[i - 1] === 13 && buffer[i] === 10) {
        return { head: decoder.decode(buffer.subarray(0, i - 3)), rest: buffer.slice(i + 1, length) };
      }
    }
  }
  return undefined;
}

/**
 * Opens a relay on 127.0.0.1 (a port of the kernel's choosing) that tunnels `CONNECT <authority>`
 * requests to `hostname:port` and refuses any other target, so it can never be used to reach anything
 * but that endpoint. A refused upstream connection is answered with 502, which `fetch` reports as a
 * connection failure ("unsuccessful tunnel").
 *
 * @example
 * ```ts
 * const tunnel = openEndpointTunnel({ hostname: "10.0.3.7", port: 50052, authority: "product:50052" });
 * const client = Deno.createHttpClient({ proxy: { url: tunnel.proxyUrl } });
 * // fetch("https://product:50052/...", { client }) reaches 10.0.3.7 and verifies the name "product"
 * client.close();
 * tunnel.close();
 * ```
 */
export function openEndpointTunnel(options: EndpointTunnelOptions): EndpointTunnel {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hostname = options.hostname.replace(/^\[|\]$/g, "");
  const open = new Set<Deno.Conn>();
  let closed = false;

  async function relay(client: Deno.TcpConn): Promise<void> {
    open.add(client);
    let upstream: Deno.TcpConn | undefined;
    try {
      const request = await readHead(client);
      const [verb, target] = request?.head.split("\r\n")[0]?.split(" ") ?? [];
      if (request === undefined || verb !== "CONNECT" || target !== options.authority) {
        await writeAll(client, encoder.encode("HTTP/1.1 403 Forbidden\r\n\r\n"));
        return;
      }
      try {
        upstream = await Deno.connect({ hostname, port: options.port });
      } catch {
        await writeAll(client, encoder.encode(`HTTP/1.1 ${tunnelRefusedStatus}\r\n\r\n`));
        return;
      }
      open.add(upstream);
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      await writeAll(client, encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
      await writeAll(upstream, request.rest);
      // Either direction ending ends the tunnel (TLS needs no half-closed connection).
      await Promise.race([copy(client, upstream), copy(upstream, client)]);
    } catch {
      // A reset on either side ends the tunnel; fetch sees the connection close.
    } finally {
      open.delete(client);
      closeQuietly(client);
      if (upstream !== undefined) {
        open.delete(upstream);
        closeQuietly(upstream);
      }
    }
  }

  (async () => {
    try {
      for await (const conn of listener) {
        if (closed) closeQuietly(conn);
        else void relay(conn);
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    proxyUrl: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      for (const conn of open) closeQuietly(conn);
      open.clear();
    },
  };
}
