/**
 * The notification service as a real process: PostgreSQL from the harness, the real user service for the
 * customer's address, Mailpit as the mail server, mTLS, and the order service's certificate as caller.
 * Emails are read back from Mailpit's API.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createServiceTransport } from "@shop/platform/client";
import {
  failure,
  freePort,
  postgresForTests,
  ProcessGroup,
  type StartedMailpit,
  startMailpit,
  withFreePorts,
} from "@shop/platform/testing";
import { ensureDevCertificates, readTlsFiles } from "@shop/platform/tls";
import { OrderNotificationService } from "@shop/proto/notification";
import { OrderEventSchema, OrderEventType, OrderStatus } from "@shop/proto/order";
import { UserService } from "@shop/proto/user";
import { startServiceProcess } from "../platform/testing/service_process.ts";
import { writeSigningKey } from "../user/testdata/fixtures.ts";

const certsDir = await ensureDevCertificates();
const main = new URL("./main.ts", import.meta.url);

interface MailpitMessage {
  MessageID: string;
  Subject: string;
  To: Array<{ Address: string }>;
}

async function inbox(mailpit: StartedMailpit): Promise<MailpitMessage[]> {
  const response = await fetch(`${mailpit.apiUrl}/api/v1/messages`);
  return ((await response.json()) as { messages: MailpitMessage[] }).messages;
}

function orderEvent(userId: string, status = OrderStatus.PAID) {
  const orderId = crypto.randomUUID();
  return create(OrderEventSchema, {
    eventId: crypto.randomUUID(),
    orderId,
    sequence: 1n,
    type: OrderEventType.STATUS_CHANGED,
    time: timestampFromDate(new Date()),
    status,
    reason: "payment captured",
    order: {
      id: orderId,
      userId,
      items: [{
        productId: "p-1",
        name: "Kettle",
        quantity: 2,
        unitPrice: { currencyCode: "USD", amountMinor: 1999n },
      }],
      total: { currencyCode: "USD", amountMinor: 3998n },
      status,
      shippingAddress: {
        name: "Ada",
        line1: "1 Main St",
        city: "Berlin",
        postalCode: "10115",
        country: "DE",
      },
    },
  });
}

Deno.test("the notification service emails customers once per order event", async (t) => {
  await using userDb = await (await postgresForTests()).createDatabase({ label: "notification-users" });
  const keysDir = await Deno.makeTempDir({ prefix: "notification-keys-" });
  await writeSigningKey(keysDir, "k-1");
  await using user = await startServiceProcess(new URL("../user/main.ts", import.meta.url), {
    env: {
      SHOP_ENV: "dev",
      SHOP_USER_SERVER_PORT: "0",
      SHOP_USER_DATABASE_URL: userDb.url,
      SHOP_USER_TLS_CERTS_DIR: certsDir,
      SHOP_USER_JWT_KEYS_DIR: keysDir,
      SHOP_USER_PASSWORD_SCRYPT_LOG_N: "12",
      SHOP_USER_DISCOVERY_ENABLED: "false",
    },
  });
  const gateway = createServiceTransport({ baseUrl: user.url, tls: await readTlsFiles(certsDir, "gateway") });
  const { user: ada } = await createClient(UserService, gateway).registerUser({
    email: "ada@example.com",
    password: "correct horse battery",
    displayName: "Ada",
  });
  gateway.close();
  const adaId = ada?.id ?? "";
  const group = await ProcessGroup.create();
  const orderTls = await readTlsFiles(certsDir, "order");

  /** A notification service on its own database, sending to `smtpPort`. */
  async function notificationService(label: string, smtpPort: number, extra: Record<string, string> = {}) {
    const db = await (await postgresForTests()).createDatabase({ label });
    const env = {
      SHOP_ENV: "dev",
      SHOP_NOTIFICATION_SERVER_PORT: "0",
      SHOP_NOTIFICATION_DATABASE_URL: db.url,
      SHOP_NOTIFICATION_TLS_CERTS_DIR: certsDir,
      SHOP_NOTIFICATION_DISCOVERY_ENABLED: "false",
      SHOP_NOTIFICATION_USER_URL: user.url,
      SHOP_NOTIFICATION_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SHOP_NOTIFICATION_SMTP_TIMEOUT: "3s",
      SHOP_NOTIFICATION_EMAILS_HOLD: "1s",
    };
    const start = (more: Record<string, string> = {}) =>
      startServiceProcess(main, { env: { ...env, ...more } });
    return { db, start, process: await start(extra) };
  }
  const clientOf = (url: string, identity = orderTls) => {
    const transport = createServiceTransport({ baseUrl: url, tls: identity });
    return { client: createClient(OrderNotificationService, transport), close: () => transport.close() };
  };
  const mailpitOn = (dir: string) =>
    withFreePorts(
      2,
      ([smtpPort = 0, httpPort = 0]) =>
        startMailpit(group, { smtpPort, httpPort, database: `${group.dir}/${dir}.db` }),
    );

  try {
    await t.step(
      "a PAID event sends one confirmation to the buyer; a repeat none; only order may call",
      async () => {
        const mailpit = await mailpitOn("first");
        const smtpPort = Number(new URL(mailpit.smtpUrl).port);
        const service = await notificationService("notification-first", smtpPort);
        const { client, close } = clientOf(service.process.url);
        try {
          const event = orderEvent(adaId);
          await client.notifyOrderEvent({ event });
          await client.notifyOrderEvent({ event });
          const messages = await inbox(mailpit);
          assert.deepEqual(messages.map((m) => [m.To[0]?.Address, m.MessageID]), [[
            "ada@example.com",
            `${event.eventId}@shop.notification`,
          ]]);
          assert.match(messages[0]?.Subject ?? "", /^Your order is confirmed/);
          for (const peer of ["gateway", "payment", "user"]) {
            const other = clientOf(service.process.url, await readTlsFiles(certsDir, peer));
            assert.equal(
              (await failure(other.client.notifyOrderEvent({ event: orderEvent(adaId) }))).code,
              Code.PermissionDenied,
            );
            other.close();
          }
          assert.equal((await inbox(mailpit)).length, 1);
        } finally {
          close();
          await service.process.kill();
          await service.db.drop();
        }
      },
    );

    await t.step(
      "killed after the mail server took the email and before recording it: no second email",
      async () => {
        const mailpit = await mailpitOn("crash");
        const smtpPort = Number(new URL(mailpit.smtpUrl).port);
        const service = await notificationService("notification-crash", smtpPort, {
          SHOP_NOTIFICATION_FAULTS_CRASH_AFTER_SENDING: "true",
        });
        const event = orderEvent(adaId);
        const first = clientOf(service.process.url);
        await assert.rejects(first.client.notifyOrderEvent({ event }));
        first.close();
        await service.process.kill();
        assert.equal((await inbox(mailpit)).length, 1, "the server took it before the process died");
        // Restarted without the fault; the relay sends the event again until it is acknowledged.
        const restarted = await service.start();
        const again = clientOf(restarted.url);
        try {
          let acknowledged = false;
          for (let attempt = 0; attempt < 50 && !acknowledged; attempt++) {
            acknowledged = await again.client.notifyOrderEvent({ event }).then(() => true, async (error) => {
              assert.equal((await failure(Promise.reject(error))).code, Code.Aborted);
              await new Promise((resolve) => setTimeout(resolve, 200));
              return false;
            });
          }
          assert.ok(acknowledged);
          assert.equal((await inbox(mailpit)).length, 1);
        } finally {
          again.close();
          await restarted.kill();
          await service.db.drop();
        }
      },
    );

    await t.step("a mail server that is down delays the email and loses none", async () => {
      const smtpPort = freePort();
      const service = await notificationService("notification-down", smtpPort);
      const { client, close } = clientOf(service.process.url);
      try {
        const event = orderEvent(adaId, OrderStatus.AWAITING_PAYMENT);
        assert.equal((await failure(client.notifyOrderEvent({ event }))).code, Code.Unavailable);
        const mailpit = await startMailpit(group, {
          smtpPort,
          httpPort: freePort(),
          database: `${group.dir}/down.db`,
        });
        await client.notifyOrderEvent({ event });
        await client.notifyOrderEvent({ event });
        const messages = await inbox(mailpit);
        assert.deepEqual(messages.map((m) => m.MessageID), [`${event.eventId}@shop.notification`]);
        assert.match(messages[0]?.Subject ?? "", /^We are waiting for your payment/);
      } finally {
        close();
        await service.process.kill();
        await service.db.drop();
      }
    });
  } finally {
    await group.stop();
    await Deno.remove(keysDir, { recursive: true });
  }
});
