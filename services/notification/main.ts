/**
 * The notification service's composition root: its record of sent emails, its client of the user
 * service (customers' addresses), the SMTP mailer, and the internal service the order service's relay
 * pushes order events to, on the kit's service skeleton (`runService`).
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { type ClosableTransport, createServiceTransport } from "@shop/platform/client";
import { createDiscoveryTransport, createResolver } from "@shop/platform/discovery";
import { instrumentStore } from "@shop/platform/metrics";
import { runService } from "@shop/platform/service";
import { CustomerContactService } from "@shop/proto/user";
import { notificationConfigSchema, productionRefusal } from "./config.ts";
import { Notifications } from "./domain/notifications.ts";
import { PostgresSentEmailStore } from "./store/postgres_sent_email_store.ts";
import { contactsOverConnect } from "./transport/contacts_client.ts";
import { notificationAllowedPeers, notificationRoutes } from "./transport/notification_routes.ts";
import { SmtpMailer } from "./transport/smtp_mailer.ts";

await runService({
  service: "notification",
  schema: notificationConfigSchema,
  check: productionRefusal,
  setup: async ({ config, instanceId, log, metrics, tls, postgres, every, onClose }) => {
    const sql = await postgres(new URL("./store/migrations/", import.meta.url));
    const store = instrumentStore(new PostgresSentEmailStore(sql), {
      registry: metrics.registry,
      store: "postgres",
      poolSize: config.database.maxConnections,
    });

    // The user service at a fixed address when one is configured, else every live instance found in etcd.
    const resolver = config.user.url
      ? undefined
      : createResolver({ etcd: { endpoints: [...config.discovery.etcd] }, prefix: config.discovery.prefix });
    const userTransport: ClosableTransport = resolver
      ? createDiscoveryTransport({ resolver, service: "user", tls })
      : createServiceTransport({ baseUrl: config.user.url, tls });
    onClose(async () => {
      userTransport.close();
      await resolver?.close();
    });

    const crash = config.faults.crashAfterSending === "true";
    if (crash) {
      log.warn("TEST FAULT ARMED: the process kills itself once the mail server has taken a message");
    }

    const emails = new Counter({
      name: "shop_order_emails_total",
      help: "Order events by what became of their email: sent, already_sent (a repeat), unconfirmed " +
        "(the connection broke after the message's end: never resent), no_customer.",
      labelNames: ["outcome"],
      registers: [metrics.registry],
    });
    for (const outcome of ["sent", "already_sent", "unconfirmed", "no_customer"]) emails.inc({ outcome }, 0);

    const notifications = new Notifications({
      store,
      contacts: contactsOverConnect(createClient(CustomerContactService, userTransport), {
        timeoutMs: 3_000,
      }),
      mailer: new SmtpMailer({
        url: config.smtp.url,
        ...(config.smtp.caFile === "" ? {} : { caCerts: [await Deno.readTextFile(config.smtp.caFile)] }),
        from: config.smtp.from,
        timeoutMs: config.smtp.timeout,
      }),
      instanceId,
      holdMs: config.emails.hold,
      ...(crash ? { afterAccepted: () => Deno.kill(Deno.pid, "SIGKILL") } : {}),
    });

    every("purge-sent-emails", config.emails.purgeInterval, async () => {
      await store.purge(new Date(Date.now() - config.emails.keep));
    });

    return {
      routes: notificationRoutes(notifications, {
        onNotified: (outcome) => {
          emails.inc({ outcome });
          if (outcome === "unconfirmed") {
            log.warn(
              "An order email may or may not have been taken by the mail server; it is not sent again",
            );
          }
        },
      }),
      allowedPeers: notificationAllowedPeers,
    };
  },
});
