/**
 * A small SMTP client (RFC 5321): what the notification service needs of a mail server. `smtps://` is
 * TLS from the first byte (RFC 8314, port 465); `smtp://` upgrades with STARTTLS (RFC 3207) whenever the
 * server offers it, and insists on it when the URL carries credentials, which go only over TLS (AUTH
 * PLAIN, RFC 4954): a production relay (SES, SendGrid, Postmark...) is `smtp://user:password@host:587`
 * or `smtps://...:465`. Certificates are checked against the system's roots, plus `caCerts`. And it has
 * the one hook the "never twice" guarantee needs, and the one hook the "never twice" guarantee needs, a call just before the end
 * of the message (the final `.`) is sent. Until that dot, a server discards the transaction if the
 * connection breaks; after it, the server may have taken the message whether or not its answer arrives.
 *
 * @module
 */
import type { Email } from "../domain/order_email.ts";
import type { Mailer, SendOutcome } from "../domain/ports.ts";

/** What {@linkcode SmtpMailer} is built from. */
export interface SmtpMailerOptions {
  /** `smtp://[user:password@]host:port` (STARTTLS when offered, required with credentials) or `smtps://`. */
  url: string;
  /** More CA certificates (PEM) to trust for the mail server's certificate. */
  caCerts?: string[];
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
  /** The text of the lines of the last reply (after the code), e.g. EHLO's extensions. */
  lines: string[] = [];

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
          this.lines = lines.slice(0, i + 1).map((reply) => reply.slice(4));
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
  #implicitTls: boolean;
  #credentials: { user: string; password: string } | undefined;
  #options: SmtpMailerOptions;

  /** A mailer for the server at `options.url`. */
  constructor(options: SmtpMailerOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "smtp:" && url.protocol !== "smtps:") {
      throw new Error("the mail server's URL must be smtp:// or smtps://");
    }
    this.#host = url.hostname.replace(/^\[|\]$/g, "");
    this.#implicitTls = url.protocol === "smtps:";
    this.#port = Number(url.port || (this.#implicitTls ? 465 : 25));
    this.#credentials = url.username === ""
      ? undefined
      : { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    this.#options = options;
  }

  /** Connects, with TLS from the start for `smtps://`. */
  #connect(): Promise<Deno.Conn> {
    const tls = { hostname: this.#host, port: this.#port, caCerts: this.#options.caCerts ?? [] };
    return this.#implicitTls
      ? Deno.connectTls(tls)
      : Deno.connect({ hostname: this.#host, port: this.#port });
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
      conn = await this.#connect();
    } catch {
      return "not_sent";
    }
    const timer = setTimeout(() => conn.close(), this.#options.timeoutMs ?? 10_000);
    const encoder = new TextEncoder();
    const write = async (text: string) => {
      const bytes = encoder.encode(text);
      for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
    };
    let replies = new ReplyReader(conn);
    let committed = false;
    try {
      const expect = async (command: string | undefined, ok: (code: number) => boolean) => {
        if (command !== undefined) await write(`${command}\r\n`);
        const code = await replies.read();
        if (!ok(code)) throw new Error(`the mail server answered ${code} to ${command ?? "the greeting"}`);
      };
      const positive = (code: number) => code >= 200 && code < 300;
      await expect(undefined, (code) => code === 220);
      const ehlo = `EHLO ${this.#options.heloName ?? "shop-notification"}`;
      await expect(ehlo, positive);
      let secure = this.#implicitTls;
      if (!secure && replies.lines.some((line) => /^STARTTLS\b/i.test(line))) {
        await expect("STARTTLS", (code) => code === 220);
        conn = await Deno.startTls(conn as Deno.TcpConn, {
          hostname: this.#host,
          caCerts: this.#options.caCerts ?? [],
        });
        replies = new ReplyReader(conn);
        secure = true;
        await expect(ehlo, positive);
      }
      if (this.#credentials !== undefined) {
        // Credentials never cross the network in the clear.
        if (!secure) throw new Error("the mail server offers no STARTTLS: credentials not sent");
        const { user, password } = this.#credentials;
        const token = btoa(String.fromCharCode(...encoder.encode(`\0${user}\0${password}`)));
        await expect(`AUTH PLAIN ${token}`, (code) => code === 235);
      }
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
