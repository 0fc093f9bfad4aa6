/**
 * A workaround for a crash of Deno's `node:http2` (2.9.6): a server that receives a GOAWAY frame with an
 * error code (seen with ENHANCE_YOUR_CALM) while streams are open dies with SIGSEGV or SIGABRT inside
 * nghttp2 (`find_stream_on_goaway_func`, or `free()` of a garbage pointer): the session is destroyed from
 * JavaScript while nghttp2 is still inside the callback that told it about the frame, and nghttp2 then
 * walks freed memory. Reproduction, figures and the note for upstream: `stress/README.md`
 * (`stress/goaway_repro.ts`); the same crash site as denoland/deno#36788.
 *
 * @module
 */
import type { Http2Session } from "node:http2";

/**
 * Makes `session.destroy()` take effect on a later turn of the event loop instead of synchronously, so
 * that nothing JavaScript does in a callback of nghttp2 (a `goaway` or `error` event) frees the session
 * under nghttp2's feet. Destroying a session is already asynchronous in its effects (streams see their
 * `close` events later), so callers notice nothing but the crash that no longer happens.
 *
 * @example
 * ```ts
 * import * as http2 from "node:http2";
 * const server = http2.createServer();
 * server.on("session", deferSessionDestroy);
 * ```
 */
export function deferSessionDestroy(session: Http2Session): void {
  const destroyNow = session.destroy.bind(session);
  let scheduled = false;
  session.destroy = (error?: Error, code?: number) => {
    if (!scheduled) {
      scheduled = true;
      setTimeout(() => destroyNow(error, code), 0);
    }
    return session;
  };
}
