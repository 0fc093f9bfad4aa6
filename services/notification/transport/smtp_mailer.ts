/**
 * A small SMTP client (RFC 5321, plain text over TCP, no authentication): what the notification service
 * needs of a mail server, and the one hook the "never twice" guarantee needs, a call just before the end
 * of the message (the final `.`) is sent. Until that dot, a server discards the transaction if the
 * connection breaks; after it, the server may have taken the message whether or not its answer arrives.
 *
 * @module
 */
import type { Email } from "../domain/order_email.ts";
import type { Mailer, SendOutcome } from "../domain/ports.ts";

/** What {@linkcode SmtpMailer} is built from. */
export interface SmtpMailerOptions {
  /** `smtp://host:port`. */
  url: string;
  /** The envelope sender and From address. */
  from: string;
  /** The From name (`Shop`). */
  fromName?: string;
  /** How long a whole send may take, in ms (10 000 unless set). */
  timeoutMs?: number;
  /** The name this client gives in EHLO (`shop-notification`). */
  heloName?: string;
}

/** Reads SMTP replies (possibly multi-line: `250-...` then `250 ...`) from a connection. */
class ReplyReader {
  #conn: Deno.Conn;
  #buffer = "";
  #decoder = new TextDecoder();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async read(): Promise<number> {
    while (true) {
      const lines = this.#buffer.split("\r\n");
      for (let i = 0; i < lines.length - 1; i++) {
        const line = lines[i] ?? "";
        if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
          this.#buffer = lines.slice(i + 1).join("\r\n");
          return Number(line.slice(0, 3));
        }
      }
      const chunk = new Uint8Array(4096);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("the mail server closed the connection");
      this.#buffer += this.#decoder.decode(chunk.subarray(0, n));
    }
  }
}

/** A header value in RFC 2047 encoded-word form when it is not plain ASCII. */
function headerText(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  return `=?UTF-8?B?${btoa(String.fromCharCode(...bytes))}?=`;
}

/** The message as SMTP's DATA carries it: CRLF lines, leading dots doubled, no final dot. */
function messageData(email: Email, options: { from: string; fromName: string; messageId: string }): string {
  const body = email.text.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
  const headers = [
    `From: ${headerText(options.fromName)} <${options.from}>`,
    `To: ${headerText(email.toName)} <${email.to}>`,
    `Subject: ${headerText(email.subject)}`,
    `Message-ID: ${options.messageId}`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
  ];
  return `${headers.join("\r\n")}\r\n\r\n${body}\r\n`;
}

/**
 * Sends email over SMTP, one connection per message.
 *
 * @example
 * ```ts ignore
 * const mailer = new SmtpMailer({ url: "smtp://127.0.0.1:1025", from: "orders@shop.local" });
 * await mailer.send(email, { messageId: "<e-1@shop.notification>", beforeCommit: async () => true });
 * ```
 */
export class SmtpMailer implements Mailer {
  #host: string;
  #port: number;
  #options: SmtpMailerOptions;

  /** A mailer for the server at `options.url`. */
  constructor(options: SmtpMailerOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "smtp:") {
      throw new Error(`the mail server's URL must be smtp://, not ${options.url}`);
    }
    this.#host = url.hostname;
    this.#port = Number(url.port || 25);
    this.#options = options;
  }

  /**
   * Sends one message. `not_sent` when the server is unreachable or refuses it (before or after its end),
   * or `beforeCommit` says no; `unknown` when the end was sent and no answer came; `accepted` on 250.
   */
  async send(
    email: Email,
    options: { messageId: string; beforeCommit: () => Promise<boolean> },
  ): Promise<SendOutcome> {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: this.#host, port: this.#port });
    } catch {
      return "not_sent";
    }
    const timer = setTimeout(() => conn.close(), this.#options.timeoutMs ?? 10_000);
    const encoder = new TextEncoder();
    const write = async (text: string) => {
      const bytes = encoder.encode(text);
      for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
    };
    const replies = new ReplyReader(conn);
    let committed = false;
    try {
      const expect = async (command: string | undefined, ok: (code: number) => boolean) => {
        if (command !== undefined) await write(`${command}\r\n`);
        const code = await replies.read();
        if (!ok(code)) throw new Error(`the mail server answered ${code} to ${command ?? "the greeting"}`);
      };
      const positive = (code: number) => code >= 200 && code < 300;
      await expect(undefined, (code) => code === 220);
      await expect(`EHLO ${this.#options.heloName ?? "shop-notification"}`, positive);
      await expect(`MAIL FROM:<${this.#options.from}>`, positive);
      await expect(`RCPT TO:<${email.to}>`, positive);
      await expect("DATA", (code) => code === 354);
      await write(messageData(email, {
        from: this.#options.from,
        fromName: this.#options.fromName ?? "Shop",
        messageId: options.messageId,
      }));
      if (!await options.beforeCommit()) return "not_sent";
      committed = true;
      await write(".\r\n");
      const code = await replies.read();
      if (!positive(code)) return "not_sent";
      await write("QUIT\r\n").catch(() => undefined);
      return "accepted";
    } catch {
      // Before the end of the message, the server drops the transaction: surely not sent.
      return committed ? "unknown" : "not_sent";
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // Closed by the timer already.
      }
    }
  }
}
