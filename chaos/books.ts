/**
 * The chaos suite's books: what the orders, the Stripe simulator (its own state, not the payment
 * service's ledger), the catalog and Mailpit say, read from outside, and the rules they must satisfy
 * once the shop has converged:
 *
 * - every order is PAID, FAILED or CANCELLED (none stuck PENDING or AWAITING_PAYMENT);
 * - a PAID order has exactly one captured charge, of its total, and nothing refunded; any other order
 *   has nothing captured net (a charge captured for it was refunded in full); no charge is captured
 *   twice for an order, and none for an order that does not exist;
 * - the refunded orders are exactly the orders whose money was captured but which are not PAID
 *   (cancelled after payment, or failed while their payment was processing);
 * - per product: units in PAID orders + stock = the initial stock (nothing oversold or lost);
 * - per order, exactly one email per order event: one per status change after PENDING and one per
 *   refund (none lost, none doubled), and no email for anything else;
 * - nothing is still in flight, as the stores say: every saga done, every order event and payment
 *   outcome notice delivered, no charge or refund pending (so books that balance for a moment while an
 *   event is still on its way do not count as converged).
 *
 * @module
 */
import postgres from "postgres";
import type { Order, Product, Rest, Session } from "../e2e/rest.ts";
import { ok } from "../e2e/rest.ts";
import { type SimulatorState, simulatorState } from "../e2e/simulator.ts";
import type { Stack } from "../e2e/stack.ts";

/** An email as Mailpit lists it. */
export interface SentEmail {
  readonly to: string;
  readonly subject: string;
}

/** Everything the books are checked against, read at one moment. */
export interface Books {
  readonly orders: readonly Order[];
  readonly stripe: SimulatorState;
  /** Stock now, by product id. */
  readonly stock: ReadonlyMap<string, number>;
  readonly emails: readonly SentEmail[];
  /** What the stores still have in flight, one line per kind (empty when nothing). */
  readonly inFlight: readonly string[];
}

/** What the books are checked against besides what is read: the products and customers of the run. */
export interface Ledger {
  /** The initial stock of every product of the run, by id. */
  readonly initialStock: ReadonlyMap<string, number>;
  /** Every customer of the run, by user id. */
  readonly customers: ReadonlyMap<string, Session>;
}

/**
 * Reads the books: every order (as the admin), the simulator's state, the stock of the run's products,
 * every email in Mailpit.
 *
 * @example
 * ```ts ignore
 * const books = await readBooks(stack, rest, adminToken, ledger);
 * ```
 */
export async function readBooks(
  stack: Pick<Stack, "stripeSimulatorUrl" | "mailpitUrl" | "databaseUrl">,
  rest: Rest,
  adminToken: string,
  ledger: Ledger,
): Promise<Books> {
  const orders: Order[] = [];
  let pageToken = "";
  do {
    const page = ok<{ orders: Order[]; nextPageToken?: string }>(
      await rest("GET", `/v1/orders?pageSize=100&pageToken=${encodeURIComponent(pageToken)}`, {
        token: adminToken,
      }),
      "list orders",
    );
    orders.push(...page.orders);
    pageToken = page.nextPageToken ?? "";
  } while (pageToken !== "");
  const stock = new Map<string, number>();
  for (const id of ledger.initialStock.keys()) {
    const { product } = ok<{ product: Product }>(await rest("GET", `/v1/products/${id}`), "get product");
    stock.set(id, product.stock);
  }
  return {
    orders,
    stripe: await simulatorState(stack as Stack),
    stock,
    emails: await mailpitEmails(stack.mailpitUrl),
    inFlight: [
      ...await countRows(await stack.databaseUrl("order"), {
        "sagas not done": "SELECT count(*) FROM orders WHERE saga_step <> 'done'",
        "order events not delivered": "SELECT count(*) FROM order_events WHERE delivered_time IS NULL",
      }),
      ...await countRows(await stack.databaseUrl("payment"), {
        "charges pending": "SELECT count(*) FROM payments WHERE charge_status = 'pending'",
        "refunds pending": "SELECT count(*) FROM refunds WHERE status = 'pending'",
        "payment outcome notices not delivered":
          "SELECT count(*) FROM order_notices WHERE delivered_time IS NULL",
      }),
    ],
  };
}

/** `"<n> <what>"` for each query whose count is not zero. */
async function countRows(url: string, queries: Record<string, string>): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const lines: string[] = [];
    for (const [what, query] of Object.entries(queries)) {
      const [row] = await sql.unsafe<Array<{ count: string }>>(query);
      const count = Number(row?.count ?? 0);
      if (count > 0) lines.push(`${count} ${what}`);
    }
    return lines;
  } finally {
    await sql.end();
  }
}

/** Every email Mailpit holds. */
async function mailpitEmails(mailpitUrl: string): Promise<SentEmail[]> {
  const emails: SentEmail[] = [];
  while (true) {
    const response = await fetch(`${mailpitUrl}/api/v1/messages?start=${emails.length}&limit=500`);
    if (!response.ok) throw new Error(`Mailpit: ${response.status} ${await response.text()}`);
    const page = await response.json() as {
      total: number;
      messages: Array<{ To: Array<{ Address: string }>; Subject: string }>;
    };
    for (const message of page.messages) {
      emails.push({ to: message.To.map((to) => to.Address).join(","), subject: message.Subject });
    }
    if (page.messages.length === 0 || emails.length >= page.total) return emails;
  }
}

const final = new Set(["ORDER_STATUS_PAID", "ORDER_STATUS_FAILED", "ORDER_STATUS_CANCELLED"]);

/**
 * What is wrong with the books: one line per broken rule (empty once they balance).
 *
 * @example
 * ```ts ignore
 * assert.deepEqual(discrepancies(await readBooks(stack, rest, token, ledger), ledger), []);
 * ```
 */
export function discrepancies(books: Books, ledger: Ledger): string[] {
  const wrong: string[] = [...books.inFlight];
  const ordersById = new Map(books.orders.map((order) => [order.id, order]));

  // Captured and refunded money per order, from Stripe's side.
  const captured = new Map<string, Array<{ intent: string; amount: number }>>();
  const intentOrder = new Map<string, string>();
  for (const intent of books.stripe.paymentIntents) {
    const orderId = intent.metadata?.order_id ?? "";
    intentOrder.set(intent.id, orderId);
    if (intent.status !== "succeeded") continue;
    if (!ordersById.has(orderId)) wrong.push(`charge ${intent.id} captured for no order (${orderId})`);
    captured.set(orderId, [...captured.get(orderId) ?? [], { intent: intent.id, amount: intent.amount }]);
  }
  const refunded = new Map<string, number>();
  for (const refund of books.stripe.refunds) {
    if (refund.status !== undefined && refund.status !== "succeeded") continue;
    const orderId = intentOrder.get(refund.payment_intent ?? "") ?? "";
    refunded.set(orderId, (refunded.get(orderId) ?? 0) + refund.amount);
  }

  const sold = new Map<string, number>();
  const emailsPerOrder = new Map<string, number>();
  for (const email of books.emails) {
    const shortId = /\(order ([0-9a-f]{8})\)$/.exec(email.subject)?.[1] ?? "";
    const key = `${email.to} ${shortId}`;
    emailsPerOrder.set(key, (emailsPerOrder.get(key) ?? 0) + 1);
  }
  let expectedEmails = 0;

  for (const order of books.orders) {
    // An order refused before it was priced (an unknown product, no stock) has no total.
    const total = Number((order.total as Order["total"] | undefined)?.amountMinor ?? 0);
    const charges = captured.get(order.id) ?? [];
    const capturedAmount = charges.reduce((sum, charge) => sum + charge.amount, 0);
    const refundedAmount = refunded.get(order.id) ?? 0;
    if (!final.has(order.status)) wrong.push(`order ${order.id} is ${order.status}`);
    if (charges.length > 1) wrong.push(`order ${order.id} was charged ${charges.length} times`);
    if (order.status === "ORDER_STATUS_PAID") {
      if (capturedAmount !== total || refundedAmount !== 0) {
        wrong.push(
          `PAID order ${order.id} of ${total}: captured ${capturedAmount}, refunded ${refundedAmount}`,
        );
      }
      for (const item of order.items) {
        sold.set(item.productId, (sold.get(item.productId) ?? 0) + item.quantity);
      }
    } else if (capturedAmount !== refundedAmount) {
      wrong.push(
        `${order.status} order ${order.id}: captured ${capturedAmount}, refunded ${refundedAmount}`,
      );
    }
    // One email per status change after PENDING, and one per refund.
    const customer = ledger.customers.get(order.userId);
    if (customer === undefined) {
      wrong.push(`order ${order.id} of a customer the run does not know (${order.userId})`);
      continue;
    }
    const expected = order.statusHistory.filter((change) => change.status !== "ORDER_STATUS_PENDING").length +
      (refundedAmount > 0 ? 1 : 0);
    expectedEmails += expected;
    const key = `${customer.email} ${order.id.slice(0, 8)}`;
    const sent = emailsPerOrder.get(key) ?? 0;
    if (sent !== expected) {
      wrong.push(`order ${order.id} (${order.status}): ${sent} emails for ${expected} events`);
    }
  }
  if (books.emails.length !== expectedEmails) {
    wrong.push(`${books.emails.length} emails in all for ${expectedEmails} order events`);
  }
  for (const orderId of refunded.keys()) {
    if (!ordersById.has(orderId)) wrong.push(`a refund for no order (${orderId})`);
  }

  for (const [id, initial] of ledger.initialStock) {
    const stock = books.stock.get(id) ?? Number.NaN;
    const units = sold.get(id) ?? 0;
    if (stock + units !== initial) {
      wrong.push(`product ${id}: ${units} sold + ${stock} in stock != ${initial} at the start`);
    }
  }
  return wrong;
}

/** Why orders failed, by the start of their reason: the customer's card or the stock, or the shop. */
const failureKinds: ReadonlyArray<[string, RegExp]> = [
  ["no stock", /^not enough stock/],
  ["declined", /^payment (declined|failed)/],
  ["unreachable", /could not reach/],
  ["expired", /reservation expired/],
];

/**
 * Orders by final status, FAILED ones by why (`failed: no stock`, `failed: declined`, ... `failed:
 * other`), for the suite's table.
 *
 * @example
 * ```ts ignore
 * orderCounts(books.orders); // { paid: 9, "failed: no stock": 4, "failed: declined": 2 }
 * ```
 */
export function orderCounts(orders: readonly Order[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const order of orders) {
    let status = order.status.replace("ORDER_STATUS_", "").toLowerCase();
    if (status === "failed") {
      const kind = failureKinds.find(([, pattern]) => pattern.test(order.failureReason))?.[0] ?? "other";
      status = `failed: ${kind}`;
    }
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}
