/**
 * Splits a stream of text into lines (JSR's `@std/streams` is unreachable here, so the kit has its own).
 *
 * @example
 * ```ts
 * const lines = new Response("a\nb\n").body?.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
 * ```
 */
export class TextLineStream extends TransformStream<string, string> {
  /** Creates the stream; a last line without a newline is emitted when the input ends. */
  constructor() {
    let buffer = "";
    super({
      transform(chunk, controller) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) controller.enqueue(line.replace(/\r$/, ""));
      },
      flush(controller) {
        if (buffer !== "") controller.enqueue(buffer);
      },
    });
  }
}
