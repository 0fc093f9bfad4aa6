import assert from "node:assert/strict";
import { freePort, ProcessGroup, startMailpit, withFreePorts } from "@shop/platform/testing";
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
