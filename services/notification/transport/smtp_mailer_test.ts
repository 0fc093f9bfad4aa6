import assert from "node:assert/strict";
import { freePort, ProcessGroup, startMailpit, withFreePorts } from "@shop/platform/testing";
import { ensureDevCertificates } from "@shop/platform/tls";
import { SmtpMailer } from "./smtp_mailer.ts";

const email = {
  to: "ada@example.com",
  toName: "Ada Lövelace",
  subject: "Your order is confirmed (order 1234abcd)",
  text: "Hello Ada,\n.\nA line that starts with a dot.\nTotal: USD 39.98",
};

interface MailpitMessage {
  MessageID: string;
  Subject: string;
  To: Array<{ Address: string; Name: string }>;
}

Deno.test("SmtpMailer delivers to Mailpit with the Message-ID it is given; a refused commit sends nothing", async () => {
  const group = await ProcessGroup.create();
  try {
    const mailpit = await withFreePorts(
      2,
      ([smtpPort = 0, httpPort = 0]) =>
        startMailpit(group, { smtpPort, httpPort, database: `${group.dir}/mail.db` }),
    );
    const mailer = new SmtpMailer({ url: mailpit.smtpUrl, from: "orders@shop.local" });
    assert.equal(
      await mailer.send(email, {
        messageId: "<e-1@shop.notification>",
        beforeCommit: () => Promise.resolve(true),
      }),
      "accepted",
    );
    assert.equal(
      await mailer.send(email, {
        messageId: "<e-2@shop.notification>",
        beforeCommit: () => Promise.resolve(false),
      }),
      "not_sent",
    );
    const { messages } = await (await fetch(`${mailpit.apiUrl}/api/v1/messages`)).json() as {
      messages: MailpitMessage[];
    };
    assert.deepEqual(messages.map((m) => [m.MessageID, m.Subject, m.To[0]?.Address, m.To[0]?.Name]), [
      ["e-1@shop.notification", email.subject, "ada@example.com", "Ada Lövelace"],
    ]);
    const [first] = messages as Array<MailpitMessage & { ID: string }>;
    const text = await (await fetch(`${mailpit.apiUrl}/api/v1/message/${first?.ID}`)).json() as {
      Text: string;
    };
    assert.match(text.Text, /\r\n\.\r\nA line that starts with a dot\./);
  } finally {
    await group.stop();
  }
});

Deno.test("SmtpMailer reports a server that is down as not sent", async () => {
  const port = freePort();
  const mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: "orders@shop.local" });
  assert.equal(
    await mailer.send(email, { messageId: "<x@y>", beforeCommit: () => Promise.resolve(true) }),
    "not_sent",
  );
});

/** The Message-IDs Mailpit took. */
async function messageIds(apiUrl: string): Promise<string[]> {
  const { messages } = await (await fetch(`${apiUrl}/api/v1/messages`)).json() as {
    messages: MailpitMessage[];
  };
  return messages.map((message) => message.MessageID).sort();
}

const send = (mailer: SmtpMailer, id: string) =>
  mailer.send(email, { messageId: `<${id}@shop.notification>`, beforeCommit: () => Promise.resolve(true) });

Deno.test("SmtpMailer to a relay that requires STARTTLS and a password: sent over TLS with AUTH PLAIN only", async (t) => {
  const certsDir = await ensureDevCertificates();
  const ca = await Deno.readTextFile(`${certsDir}/ca.crt`);
  const group = await ProcessGroup.create();
  try {
    const authFile = `${group.dir}/smtp-users`;
    await Deno.writeTextFile(authFile, "orders:s3cret/pw\n");
    const tls = { certFile: `${certsDir}/gateway.crt`, keyFile: `${certsDir}/gateway.key` };
    const relay = await withFreePorts(
      2,
      ([smtpPort = 0, httpPort = 0]) =>
        startMailpit(group, { smtpPort, httpPort, database: `${group.dir}/relay.db`, tls, authFile }),
    );
    const smtps = await withFreePorts(2, ([smtpPort = 0, httpPort = 0]) =>
      startMailpit(group, {
        smtpPort,
        httpPort,
        database: `${group.dir}/smtps.db`,
        tls: { ...tls, implicit: true },
        authFile,
      }));
    const plain = await withFreePorts(
      2,
      ([smtpPort = 0, httpPort = 0]) =>
        startMailpit(group, { smtpPort, httpPort, database: `${group.dir}/plain.db` }),
    );
    const withUser = (url: string, password = "s3cret/pw") =>
      url.replace("://", `://orders:${encodeURIComponent(password)}@`);

    await t.step("STARTTLS, then the right password: accepted", async () => {
      const mailer = new SmtpMailer({
        url: withUser(relay.smtpUrl),
        from: "orders@shop.local",
        caCerts: [ca],
      });
      assert.equal(await send(mailer, "starttls"), "accepted");
      assert.deepEqual(await messageIds(relay.apiUrl), ["starttls@shop.notification"]);
    });
    await t.step("smtps://, TLS from the first byte: accepted", async () => {
      const mailer = new SmtpMailer({
        url: withUser(smtps.smtpUrl),
        from: "orders@shop.local",
        caCerts: [ca],
      });
      assert.equal(await send(mailer, "smtps"), "accepted");
      assert.deepEqual(await messageIds(smtps.apiUrl), ["smtps@shop.notification"]);
    });
    await t.step("a wrong password, a certificate nobody vouches for: not sent", async () => {
      const wrong = new SmtpMailer({
        url: withUser(relay.smtpUrl, "guess"),
        from: "o@shop.local",
        caCerts: [ca],
      });
      assert.equal(await send(wrong, "wrong-password"), "not_sent");
      const untrusted = new SmtpMailer({ url: withUser(relay.smtpUrl), from: "orders@shop.local" });
      assert.equal(await send(untrusted, "untrusted"), "not_sent");
      const noTls = new SmtpMailer({ url: relay.smtpUrl, from: "orders@shop.local", caCerts: [ca] });
      assert.equal(
        await send(noTls, "no-password"),
        "not_sent",
        "the relay takes nothing without a password",
      );
      assert.deepEqual(await messageIds(relay.apiUrl), ["starttls@shop.notification"]);
    });
    await t.step("credentials and a server without STARTTLS: never sent in the clear", async () => {
      const mailer = new SmtpMailer({ url: withUser(plain.smtpUrl), from: "orders@shop.local" });
      assert.equal(await send(mailer, "clear"), "not_sent");
      assert.deepEqual(await messageIds(plain.apiUrl), []);
    });
  } finally {
    await group.stop();
  }
});
