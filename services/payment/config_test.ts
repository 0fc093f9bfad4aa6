import assert from "node:assert/strict";
import { devStripe, stripeCredentials } from "./config.ts";

Deno.test("the dev-only Stripe credentials are used in dev mode only", () => {
  assert.deepEqual(stripeCredentials({ mode: "dev", stripe: { apiKey: "", webhookSecret: "" } }), devStripe);
  assert.match(
    String(stripeCredentials({ mode: "production", stripe: { apiKey: "", webhookSecret: "whsec_x" } })),
    /stripe\.apiKey: required in production/,
  );
  assert.match(
    String(stripeCredentials({ mode: "production", stripe: { ...devStripe } })),
    /stripe\.apiKey/,
  );
  assert.match(
    String(stripeCredentials({ mode: "production", stripe: { apiKey: "sk_live_abc", webhookSecret: "" } })),
    /stripe\.webhookSecret/,
  );
  assert.deepEqual(
    stripeCredentials({ mode: "production", stripe: { apiKey: "sk_live_abc", webhookSecret: "whsec_abc" } }),
    { apiKey: "sk_live_abc", webhookSecret: "whsec_abc" },
  );
});

Deno.test("production refuses a Stripe URL that is not https (the dev simulator's)", () => {
  const stripe = { apiKey: "sk_live_abc", webhookSecret: "whsec_abc" };
  assert.match(
    String(
      stripeCredentials({ mode: "production", stripe: { ...stripe, baseUrl: "http://127.0.0.1:12112" } }),
    ),
    /stripe\.baseUrl: must be an https:\/\/ URL in production/,
  );
  assert.deepEqual(
    stripeCredentials({ mode: "production", stripe: { ...stripe, baseUrl: "https://api.stripe.com" } }),
    stripe,
  );
  assert.deepEqual(
    stripeCredentials({ mode: "dev", stripe: { ...stripe, baseUrl: "http://127.0.0.1:12112" } }),
    stripe,
  );
});
