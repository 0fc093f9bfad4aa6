import assert from "node:assert/strict";
import { openApiDocument } from "./openapi.ts";

const descriptorSet = await Deno.readFile(new URL("../../proto/gen/shop.binpb", import.meta.url));
const committed = JSON.parse(
  await Deno.readTextFile(new URL("../../proto/gen/openapi.json", import.meta.url)),
);

type Operation = {
  security: Array<Record<string, unknown>>;
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
  requestBody?: { content: { "application/json": { schema: Record<string, unknown> } } };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};

function operations(document: Record<string, unknown>): Map<string, Operation> {
  const paths = document.paths as Record<string, Record<string, Operation>>;
  return new Map(
    Object.entries(paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const)
    ),
  );
}

Deno.test("openApiDocument() has every route of the REST contract (ARCHITECTURE.md section 5)", () => {
  const ops = operations(openApiDocument(descriptorSet));
  for (
    const route of [
      "POST /v1/users:register",
      "POST /v1/auth:login",
      "POST /v1/auth:refresh",
      "POST /v1/auth:logout",
      "GET /v1/users/me",
      "PATCH /v1/users/me",
      "POST /v1/users/me:changePassword",
      "GET /v1/users",
      "GET /v1/products",
      "GET /v1/products/{id}",
      "POST /v1/products",
      "PATCH /v1/products/{productId}",
      "DELETE /v1/products/{id}",
      "POST /v1/orders",
      "GET /v1/orders",
      "GET /v1/orders/{id}",
      "POST /v1/orders/{id}:cancel",
      "POST /v1/orders/{id}:updateStatus",
      "GET /v1/payments",
      "POST /v1/payments/{id}:refund",
      "GET /.well-known/jwks.json",
      "GET /openapi.json",
    ]
  ) {
    assert.ok(ops.has(route), `${route} is documented`);
  }
  assert.ok(![...ops.keys()].some((k) => /Inventory|PaymentProcessor|ReserveStock|Charge/.test(k)));
});

Deno.test("openApiDocument() says who may call, and documents 429 and the JSON error shape everywhere", () => {
  const document = openApiDocument(descriptorSet);
  const ops = operations(document);
  assert.deepEqual(ops.get("GET /v1/users")?.security, [{ bearer: [] }]);
  assert.ok(ops.get("GET /v1/users")?.responses["403"], "admin-only: 403");
  assert.deepEqual(
    ops.get("GET /v1/products")?.security,
    [{}, { bearer: [] }],
    "public: a token is optional",
  );
  for (const [route, op] of ops) {
    assert.ok(op.responses["429"], `${route}: 429`);
    const status = op.responses["429"]?.content?.["application/json"]?.schema;
    assert.deepEqual(status, { $ref: "#/components/schemas/Status" }, route);
  }
  const schemas = (document.components as { schemas: Record<string, Record<string, unknown>> }).schemas;
  assert.deepEqual(schemas.Status?.required, ["code", "message"]);
});

Deno.test("openApiDocument() maps protovalidate rules, required fields and the JSON names", () => {
  const ops = operations(openApiDocument(descriptorSet));
  const register = ops.get("POST /v1/users:register")?.requestBody?.content["application/json"].schema;
  assert.deepEqual(register?.required, ["email", "password", "displayName"]);
  const properties = register?.properties as Record<string, Record<string, unknown>>;
  assert.equal(properties.password?.minLength, 8);
  assert.equal(properties.email?.format, "email");

  const listPayments = ops.get("GET /v1/payments")?.parameters ?? [];
  const orderId = listPayments.find((p) => p.name === "orderId");
  assert.deepEqual([orderId?.in, orderId?.required, orderId?.schema.format], ["query", true, "uuid"]);
  const pageSize = listPayments.find((p) => p.name === "pageSize");
  assert.deepEqual([pageSize?.schema.minimum, pageSize?.schema.maximum], [0, 100]);

  const update = ops.get("PATCH /v1/products/{productId}");
  assert.deepEqual(update?.parameters?.map((p) => [p.name, p.in]), [["productId", "path"], [
    "updateMask",
    "query",
  ]]);
  assert.deepEqual(update?.requestBody?.content["application/json"].schema, {
    $ref: "#/components/schemas/shop.product.v1.Product",
  });
});

Deno.test("the committed proto/gen/openapi.json has the same operations (deno task gen writes it)", () => {
  const fresh = operations(openApiDocument(descriptorSet));
  const saved = operations(committed);
  assert.deepEqual([...saved.keys()].sort(), [...fresh.keys()].sort());
});
