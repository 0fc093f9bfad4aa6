/**
 * A real browser for the UI tests: Debian's Chromium (apt `chromium`, installed by `scripts/setup`)
 * driven headless by npm `playwright-core` from Deno, against the gateway of a test stack. Pages are
 * checked with axe-core (no serious or critical violation) and photographed into `web/screenshots/`
 * (ignored by git; the run's artifacts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Where each run's screenshots go (`SHOP_SCREENSHOTS_DIR` to change). */
export const screenshotsDir: string = Deno.env.get("SHOP_SCREENSHOTS_DIR") ?? `${root}/web/screenshots`;

/** The Chromium binary: `SHOP_CHROMIUM_BIN`, else Debian's. */
export const chromiumPath: string = Deno.env.get("SHOP_CHROMIUM_BIN") ?? "/usr/bin/chromium";

/**
 * Launches headless Chromium; `await using` closes it.
 *
 * @example
 * ```ts ignore
 * await using browser = await launchBrowser();
 * ```
 */
export async function launchBrowser(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // The test machine runs as root in a container without user namespaces.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/**
 * A fresh browser profile (its own storage, so its own session and cart) at phone width, trusting the
 * gateway's dev certificate, and failing the test on any error in the page's console (a CSP violation
 * included).
 *
 * @example
 * ```ts ignore
 * const { page } = await newVisitor(browser);
 * await page.goto(stack.url);
 * ```
 */
export async function newVisitor(
  browser: Browser,
  options: { width?: number } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: options.width ?? 375, height: 812 },
  });
  const page = await context.newPage();
  // Bounded waits: a missing element fails in seconds, not at Playwright's 30 s default.
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return { context, page, errors };
}

let axeSource: string | undefined;

/**
 * Runs axe-core on the page as it is now and fails on any serious or critical violation. axe is
 * evaluated through the DevTools protocol, which the page's CSP (no inline script) does not govern.
 *
 * @example
 * ```ts ignore
 * await expectAccessible(page, "the catalog");
 * ```
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  axeSource ??= await Deno.readTextFile(`${root}/node_modules/axe-core/axe.min.js`);
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.evaluate(`${axeSource}\n;0`);
  const violations = await page.evaluate(async () => {
    type Axe = {
      run: () => Promise<{
        violations: Array<
          { id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }
        >;
      }>;
    };
    const axe = (globalThis as unknown as { axe: Axe }).axe;
    const result = await axe.run();
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) =>
        `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`
      );
  });
  assert.deepEqual(violations, [], `axe found serious or critical violations on ${what}`);
}

/**
 * Saves a full-page screenshot as `web/screenshots/<name>.png` and checks the page with axe.
 *
 * @example
 * ```ts ignore
 * await snapshot(page, "storefront-catalog");
 * ```
 */
export async function snapshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: `${screenshotsDir}/${name}.png`, fullPage: true });
  await expectAccessible(page, name);
}
