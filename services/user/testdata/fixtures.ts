/**
 * Builds the user service's rules over the memory store with real credentials (scrypt at a low cost,
 * ES256 keys made for the test), for handler tests.
 *
 * @module
 */
import { exportPKCS8, generateKeyPair } from "jose";
import { createScryptHasher } from "../credentials/password_hasher.ts";
import { createRefreshTokenMinter } from "../credentials/refresh_token_minter.ts";
import { createAccessTokenIssuer, type KeyRing, readKeyRing } from "../credentials/signing_keys.ts";
import { Accounts, type AccountsDeps } from "../domain/accounts.ts";
import { MemoryUserStore } from "../store/memory_user_store.ts";

/** The token policy tests use. */
export const tokenPolicy = { issuer: "shop-user", audience: "shop", ttlMs: 60_000 };

/** A fresh ES256 key written as `<kid>.pem` into `dir`. */
export async function writeSigningKey(dir: string, kid: string): Promise<void> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  await Deno.writeTextFile(`${dir}/${kid}.pem`, await exportPKCS8(privateKey));
}

/** Everything a handler test needs. */
export interface AccountsFixture {
  accounts: Accounts;
  store: MemoryUserStore;
  keysDir: string;
  /** The ring in use; `reloadKeys()` re-reads the directory, as the service does periodically. */
  ring(): KeyRing;
  reloadKeys(): Promise<void>;
  /** Advances the clock the rules see. */
  advance(ms: number): void;
  cleanup(): Promise<void>;
}

/** Creates the fixture; `overrides` replace parts of the rules' dependencies. */
export async function createAccountsFixture(overrides: Partial<AccountsDeps> = {}): Promise<AccountsFixture> {
  const keysDir = await Deno.makeTempDir({ prefix: "user-keys-" });
  await writeSigningKey(keysDir, "k-2026-01");
  let ring = await readKeyRing(keysDir);
  let offsetMs = 0;
  const store = new MemoryUserStore();
  const accounts = new Accounts({
    store,
    hasher: await createScryptHasher({ logN: 12, r: 8, p: 1 }),
    accessTokens: createAccessTokenIssuer(() => ring, tokenPolicy),
    refreshTokens: createRefreshTokenMinter(),
    refreshTokenTtlMs: 3_600_000,
    now: () => new Date(Date.now() + offsetMs),
    ...overrides,
  });
  return {
    accounts,
    store,
    keysDir,
    ring: () => ring,
    async reloadKeys() {
      ring = await readKeyRing(keysDir);
    },
    advance(ms) {
      offsetMs += ms;
    },
    cleanup: () => Deno.remove(keysDir, { recursive: true }),
  };
}
