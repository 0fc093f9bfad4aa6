/**
 * The caller's check of whom it calls: before a transport sends anything to an endpoint it opens a TLS
 * connection of its own there (`node:tls`, the same CA and client certificate) and reads the shop
 * identity in the certificate the endpoint proves it holds (URI SAN `spiffe://shop.local/<name>`).
 *
 * Deno's `fetch`, which carries the calls, checks the CA and the service's DNS name (through
 * `endpoint_tunnel.ts`) but does not show the peer certificate, hence a probe of its own for the URI
 * SAN. The probe dials the endpoint's address and checks the certificate against the service's name
 * (SNI and the host name check), as the calls do: an instance registers its pod IP, which no
 * certificate names.
 *
 * @module
 */
import { checkServerIdentity, connect } from "node:tls";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { identityFromSubjectAltName, type TlsFiles } from "../tls/tls_files.ts";

/**
 * Why a call was not sent: the endpoint could not be checked (no TLS handshake) or is not the service
 * the caller meant (the UNAVAILABLE error's cause).
 */
export class PeerIdentityError extends Error {
  /**
   * @param message What was expected and what the endpoint presented.
   */
  constructor(message: string) {
    super(message);
    this.name = "PeerIdentityError";
  }
}

/** Options of {@linkcode probePeerIdentity}. */
export interface ProbeOptions {
  /** How long the handshake may take (3 s unless set). */
  timeoutMs?: number;
  /**
   * The name the server's certificate must carry as a DNS SAN, sent as SNI: the service the caller
   * means (`payment`), whatever address the URL dials. Unless set: the URL's host.
   */
  serverName?: string;
}

/**
 * The shop identity of the server at `url`: the URI SAN of the certificate it completed a TLS handshake
 * with (chain valid for `tls.ca`, the caller's own client certificate sent, the host name check against
 * `serverName` or the URL's host), or undefined when it names none. Rejects when the handshake fails; a
 * certificate of the shop CA that lacks `serverName` rejects with a {@linkcode PeerIdentityError}
 * naming the identity it carries.
 *
 * @example
 * ```ts ignore
 * const name = await probePeerIdentity("https://10.0.3.7:50054", tls, { serverName: "payment" }); // "payment"
 * ```
 */
export function probePeerIdentity(
  url: string,
  tls: TlsFiles,
  options: ProbeOptions = {},
): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, "");
  const serverName = options.serverName ?? host;
  const isAddress = /^[\d.]+$|:/.test(serverName);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: Number(port || 443),
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ALPNProtocols: ["h2"],
      rejectUnauthorized: true,
      // SNI carries a name, never an address (RFC 6066).
      ...(isAddress ? {} : { servername: serverName }),
      // The certificate must name the service meant, not the address dialed (a pod IP is in none).
      checkServerIdentity: (_host, cert) => {
        const mismatch = checkServerIdentity(serverName, cert);
        if (mismatch === undefined) return undefined;
        const presented = identityFromSubjectAltName(cert.subjectaltname);
        return presented === undefined ? mismatch : new PeerIdentityError(
          `${url} is not ${serverName}: its certificate names ${presented}`,
        );
      },
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`TLS handshake with ${url} timed out`)),
      options.timeoutMs ?? 3_000,
    );
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      // Deno may read a closing connection's certificate as null: then no identity, never a throw
      // inside this event handler (it would end the process).
      const certificate = socket.authorized
        ? socket.getPeerCertificate() as ReturnType<typeof socket.getPeerCertificate> | null
        : null;
      const identity = certificate ? identityFromSubjectAltName(certificate.subjectaltname) : undefined;
      socket.end();
      socket.destroy();
      if (!socket.authorized) reject(new Error(`${url}: ${socket.authorizationError}`));
      else resolve(identity);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Options of {@linkcode peerIdentityCheck}. */
export interface PeerIdentityCheckOptions {
  /** `https://host:port` of the endpoint. */
  url: string;
  /** The shop identity the endpoint must prove: `payment` for `spiffe://shop.local/payment`. */
  identity: string;
  /** The caller's certificate, key and CA (the same the calls use). */
  tls: TlsFiles;
  /** How long a verdict holds before the next call checks again (30 s unless set). */
  recheckMs?: number;
  /** The probe, replaceable in tests. */
  probe?: (url: string, tls: TlsFiles, options: ProbeOptions) => Promise<string | undefined>;
  /** Probe at once rather than at the first call (a transport warms up as soon as it is made). */
  warm?: boolean;
}

/**
 * An interceptor that sends a call only to an endpoint that proved, in a TLS handshake of its own, that
 * it holds the certificate of `identity`. The verdict is cached for `recheckMs` (checked again in the
 * background after half of it, so calls do not wait), and dropped when a call fails to reach the endpoint (a new connection follows, so the next call checks again). A refusal is
 * UNAVAILABLE with a {@linkcode PeerIdentityError} as cause: the call was never sent, so the discovery
 * transport tries another instance.
 *
 * @example
 * ```ts ignore
 * const interceptors = [peerIdentityCheck({ url: "https://127.0.0.1:50054", identity: "payment", tls })];
 * ```
 */
export function peerIdentityCheck(options: PeerIdentityCheckOptions): Interceptor {
  const recheckMs = options.recheckMs ?? 30_000;
  const probe = options.probe ?? probePeerIdentity;
  /** The last check that passed or is running, and when it started. */
  let verdict: { at: number; check: Promise<void> } | undefined;
  let refreshing = false;

  function verify(): Promise<void> {
    const check = probe(options.url, options.tls, { serverName: options.identity }).then((presented) => {
      if (presented !== options.identity) {
        throw new PeerIdentityError(
          `${options.url} is not ${options.identity}: its certificate names ${
            presented ?? "no shop identity"
          }`,
        );
      }
    });
    verdict = { at: Date.now(), check };
    // A failed check is not cached: the next call probes again.
    check.catch(() => {
      if (verdict?.check === check) verdict = undefined;
    });
    return check;
  }

  /** Checks again in the background before the verdict runs out, so calls do not wait for a probe. */
  function refresh(): void {
    refreshing = true;
    const at = Date.now();
    const previous = verdict;
    verify().then(
      () => void (verdict = { at, check: Promise.resolve() }),
      () => {
        if (verdict === undefined || verdict === previous) verdict = undefined;
      },
    ).finally(() => void (refreshing = false));
    // Until the new check settles, the previous verdict (still within recheckMs) serves.
    if (previous !== undefined) verdict = previous;
  }

  // The first check starts now, not with the first call (whose deadline it would eat into).
  if (options.warm === true) verify().catch(() => {});

  return (next) => async (req) => {
    const age = verdict === undefined ? Infinity : Date.now() - verdict.at;
    if (age >= recheckMs / 2 && age < recheckMs && !refreshing) refresh();
    const current = verdict !== undefined && Date.now() - verdict.at < recheckMs ? verdict.check : verify();
    try {
      await current;
    } catch (error) {
      const cause = error instanceof PeerIdentityError ? error : new PeerIdentityError(
        `${options.url} is unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new ConnectError(cause.message, Code.Unavailable, undefined, undefined, cause);
    }
    try {
      return await next(req);
    } catch (error) {
      // A call that did not reach the endpoint: the next one may open a new connection, check again.
      if (ConnectError.from(error).cause instanceof TypeError) verdict = undefined;
      throw error;
    }
  };
}
