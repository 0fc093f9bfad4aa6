// deno-lint-ignore-file no-console -- the suite prints its table of figures: that is its report
/**
 * The chaos suite: a stack of its own (its own PostgreSQL, etcd and FerretDB, two product instances),
 * a steady order load through the gateway, and one fault at a time. For each fault: fresh products
 * (some scarce) and customers, the load starts, the fault is injected and repaired under load, the load
 * stops, and the suite waits (bounded, polling) until the books balance (`books.ts`), over every order of
 * the run so far. A fault after which the books do not balance fails the run with what is still wrong.
 * One row per fault: orders, what the customers saw, the time from the end of the load to balanced books.
 *
 * @module
 */
import { eventually } from "@shop/platform/testing";
import { createProduct, type Product, restClient, type Session, signIn, signUp } from "../e2e/rest.ts";
import { type Stack, stackServices, startStack } from "../e2e/stack.ts";
import { type Books, discrepancies, orderCounts, readBooks } from "./books.ts";
import { type Fault, routedAgain } from "./faults.ts";
import { startLoad } from "./load.ts";

/** What one fault did: a row of the suite's table. */
export interface FaultResult {
  readonly fault: string;
  /** Orders placed during the fault's run (as the customers counted them). */
  readonly placed: number;
  /** Those orders by final status. */
  readonly outcomes: Record<string, number>;
  /** Failed calls the customers saw (retries included), by kind. */
  readonly errors: ReadonlyMap<string, number>;
  /** From the end of the load to balanced books, in ms. */
  readonly convergeMs: number;
}

/** Options of {@linkcode runChaos}. */
export interface ChaosOptions {
  /** A readable start of the stack's names (`chaos`). */
  readonly label?: string;
  /** Customers (one worker each) per fault (4). */
  readonly customers?: number;
  /** Orders placed before the fault and after its repair (8 each). */
  readonly ordersAround?: number;
  /** How long the books may take to balance after each fault, in ms (180000). */
  readonly convergeTimeoutMs?: number;
}

/**
 * The configuration the suite runs the services with: the order service's saga lease and recovery and
 * the payment service's reconciler shortened from their production values (30 s, 5 s; 60 s, 30 s), so
 * that a saga left by a killed process or a webhook that never arrived is picked up in seconds rather
 * than minutes; everything else is the services' default.
 */
export const chaosEnv = {
  order: { SHOP_ORDER_SAGA_LEASE: "5s", SHOP_ORDER_SAGA_RECOVERY_INTERVAL: "1s" },
  payment: { SHOP_PAYMENT_RECONCILE_AFTER: "10s", SHOP_PAYMENT_RECONCILE_INTERVAL: "2s" },
} as const;

/**
 * Runs the faults one at a time under load and returns a row per fault; throws (after printing the
 * table so far) when the books of a fault do not balance in time.
 *
 * @example
 * ```ts ignore
 * const results = await runChaos([killAndRestart("order")], { label: "chaos-order" });
 * ```
 */
export async function runChaos(faults: readonly Fault[], options: ChaosOptions = {}): Promise<FaultResult[]> {
  const started = Date.now();
  await using stack = await startStack({
    label: options.label ?? "chaos",
    ownServers: true,
    productInstances: 2,
    env: chaosEnv,
  });
  console.log(`chaos: the stack started in ${seconds(Date.now() - started)}`);
  const rest = restClient(stack);
  const initialStock = new Map<string, number>();
  const customers = new Map<string, Session>();
  const results: FaultResult[] = [];
  let ordersBefore = new Set<string>();

  for (const fault of faults) {
    const { products, buyers } = await shopFor(stack, fault.name, options.customers ?? 4);
    for (const product of products) initialStock.set(product.id, product.stock);
    for (const buyer of buyers) customers.set(buyer.userId, buyer);

    const load = startLoad(stack, { customers: buyers, products });
    const around = options.ordersAround ?? 8;
    await eventually(`${around} orders before the fault`, () => load.placed() >= around, {
      timeoutMs: 120_000,
    });
    await fault.inject(stack);
    const after = load.placed() + around;
    await eventually(`${around} orders after the fault`, () => load.placed() >= after, {
      timeoutMs: 120_000,
    });
    const tally = await load.stop();
    const stopped = Date.now();

    let wrong: string[] = [];
    let books: Books | undefined;
    let shown = stopped;
    try {
      await routedAgain(stack);
      // Signed in again for each fault (tokens expire), as part of the wait: the shop must let its admin in.
      let adminToken: string | undefined;
      books = await eventually(`the books balance after "${fault.name}"`, async () => {
        let read: Books;
        try {
          adminToken ??= (await signIn(rest, stack.admin.email, stack.admin.password)).accessToken;
          read = await readBooks(stack, rest, adminToken, { initialStock, customers });
        } catch (error) {
          wrong = [`reading the books: ${error instanceof Error ? error.message : error}`];
          return undefined;
        }
        wrong = discrepancies(read, { initialStock, customers });
        if (wrong.length > 0 && Date.now() - shown >= 10_000) {
          shown = Date.now();
          console.log(
            `chaos:   +${seconds(shown - stopped)}: ${wrong.length} wrong: ${wrong.slice(0, 3).join("; ")}`,
          );
        }
        return wrong.length === 0 && read;
      }, {
        timeoutMs: options.convergeTimeoutMs ?? 180_000,
        intervalMs: 1_000,
        lastSeen: () => wrong.slice(0, 20).join("; "),
      });
    } catch (error) {
      console.log(table(results));
      const what = wrong.length > 0 ? wrong : [error instanceof Error ? error.message : String(error)];
      console.log(`chaos: after "${fault.name}" the books did not balance:\n  ${what.join("\n  ")}`);
      console.log(await instancesReport(stack));
      throw error;
    }
    const mine = books.orders.filter((order) => !ordersBefore.has(order.id));
    ordersBefore = new Set(books.orders.map((order) => order.id));
    const result: FaultResult = {
      fault: fault.name,
      placed: mine.length,
      outcomes: orderCounts(mine),
      errors: tally.errors,
      convergeMs: Date.now() - stopped,
    };
    results.push(result);
    console.log(`chaos: ${row(result)}`);
  }
  console.log(table(results));
  console.log(`chaos: ${results.length} fault(s) in ${seconds(Date.now() - started)}`);
  return results;
}

/** Each running instance: whether its process still runs, and its last warnings and errors. */
async function instancesReport(stack: Stack): Promise<string> {
  const lines: string[] = [];
  for (const service of stackServices) {
    for (const instance of stack.instances(service)) {
      const exited = await Promise.race([
        instance.process.child.status.then((status) => `exited (${status.signal ?? status.code})`),
        new Promise<string>((resolve) => setTimeout(() => resolve("runs"), 50)),
      ]);
      lines.push(`chaos: ${instance.name} on ${instance.port}: ${exited}`);
      const notable = instance.process.logs.filter((line) => line.level !== "info" && line.level !== "debug");
      for (const line of notable.slice(-8)) {
        lines.push(`    ${line.time} ${line.level} ${String(line.message).slice(0, 300)}`);
      }
    }
  }
  return lines.join("\n");
}

/** Fresh products (two scarce, two plentiful) and customers for one fault. */
async function shopFor(
  stack: Stack,
  label: string,
  customers: number,
): Promise<{ products: Product[]; buyers: Session[] }> {
  const rest = restClient(stack);
  const admin = await signIn(rest, stack.admin.email, stack.admin.password);
  const products: Product[] = [];
  for (const [stock, priceMinor] of [[3, 4_900], [5, 2_500], [10_000, 1_200], [10_000, 350]] as const) {
    products.push(
      await createProduct(rest, admin.accessToken, { category: "chaos", priceMinor, stock, name: label }),
    );
  }
  const buyers: Session[] = [];
  for (let i = 0; i < customers; i++) buyers.push(await signUp(rest, `chaos${i}`));
  return { products, buyers };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function errorsText(errors: ReadonlyMap<string, number>): string {
  const total = [...errors.values()].reduce((sum, n) => sum + n, 0);
  if (total === 0) return "0";
  const kinds = [...errors].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n}x ${kind}`).join(", ");
  return `${total} (${kinds})`;
}

function row(result: FaultResult): string {
  const outcomes = Object.entries(result.outcomes).sort(([a], [b]) => a.localeCompare(b)).reverse()
    .map(([status, n]) => `${n} ${status}`).join(", ");
  return `| ${result.fault} | ${result.placed} (${outcomes}) | ${errorsText(result.errors)} | ${
    seconds(result.convergeMs)
  } |`;
}

/**
 * The results as a Markdown table (as in chaos/README.md).
 *
 * @example
 * ```ts ignore
 * console.log(table(await runChaos(allFaults)));
 * ```
 */
export function table(results: readonly FaultResult[]): string {
  return [
    "| fault | orders (final status) | errors customers saw (retries included) | books balanced after |",
    "| --- | --- | --- | --- |",
    ...results.map(row),
  ].join("\n");
}
