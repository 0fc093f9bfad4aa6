import assert from "node:assert/strict";
import { sharedServerUrl, TEST_SERVER_ENV, type TestServerName } from "./test_servers.ts";

/** The local addresses with a listening TCP socket on `port`, from /proc/net/tcp and tcp6. */
async function listeningAddresses(port: number): Promise<string[]> {
  const addresses: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await Deno.readTextFile(file)).trim().split("\n").slice(1);
    for (const line of lines) {
      const [, local = "", , state = ""] = line.trim().split(/\s+/);
      const [address = "", hexPort = ""] = local.split(":");
      if (state === "0A" && parseInt(hexPort, 16) === port) addresses.push(address);
    }
  }
  return addresses;
}

Deno.test("the shared test servers listen on 127.0.0.1 only", async () => {
  for (const name of Object.keys(TEST_SERVER_ENV) as TestServerName[]) {
    const url = new URL((await sharedServerUrl(name)).split(",")[0] ?? "");
    if (url.hostname !== "127.0.0.1") continue; // given from outside: not ours to judge
    const addresses = await listeningAddresses(Number(url.port));
    assert.ok(addresses.length > 0, `nothing listens for ${name} on port ${url.port}`);
    // 0100007F is 127.0.0.1 in /proc's little-endian hex.
    assert.deepEqual([...new Set(addresses)], ["0100007F"], `${name} listens beyond 127.0.0.1`);
  }
});

Deno.test("sharedServerUrl() uses a URL given in the environment and starts nothing", async () => {
  const name = TEST_SERVER_ENV.stripe;
  const before = Deno.env.get(name);
  Deno.env.set(name, "http://stripe.example.test:4242");
  try {
    assert.equal(await sharedServerUrl("stripe"), "http://stripe.example.test:4242");
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
});
