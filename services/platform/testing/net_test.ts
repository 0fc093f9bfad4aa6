import assert from "node:assert/strict";
import { freePort } from "./net.ts";

Deno.test("free ports: bindable, never handed out twice, below the kernel's range for outgoing connections", () => {
  const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/);
  const ports = Array.from({ length: 50 }, () => freePort());
  assert.equal(new Set(ports).size, ports.length, "a port was handed out twice");
  for (const port of ports) {
    if (Number(low) > 21_000) assert.ok(port < Number(low), `${port} is in the ephemeral range`);
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
  }
});
