/**
 * The scaffolding of a store contract suite: one suite of tests that every adapter of a store (memory,
 * PostgreSQL, MongoDB) must pass, each test on a fresh store that is thrown away after it.
 *
 * @module
 */

/** A fresh, empty store for one test, and how to throw it away. */
export interface StoreFixture<Store> {
  store: Store;
  cleanup(): Promise<void>;
}

/**
 * Returns a `test(title, body)` that registers `Deno.test("<adapter>: <title>")`, giving `body` a fresh
 * store from `fixture` and cleaning it up whether the test passes or fails.
 *
 * @example
 * ```ts ignore
 * export function userStoreContract(name: string, fixture: () => Promise<StoreFixture<UserStore>>): void {
 *   const test = contractTest(name, fixture);
 *   test("a created user is found by id", async (store) => { ... });
 * }
 * ```
 */
export function contractTest<Store>(
  adapter: string,
  fixture: () => Promise<StoreFixture<Store>>,
): (title: string, body: (store: Store) => Promise<void>) => void {
  return (title, body) =>
    Deno.test(`${adapter}: ${title}`, async () => {
      const { store, cleanup } = await fixture();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });
}
