import assert from "node:assert/strict";
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  fromJson,
  getOption,
  hasOption,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  MethodOptions_IdempotencyLevel as MethodIdempotency,
} from "@bufbuild/protobuf/wkt";
import { createFileRegistry } from "@bufbuild/protobuf";
import { validateRequest, type ValidationResult } from "@shop/platform";
import { http } from "./google.ts";
import { AuthService, CustomerContactService, RegisterUserRequestSchema, UserService } from "./user.ts";
import {
  CreateProductRequestSchema,
  InventoryService,
  ProductService,
  UpdateProductRequestSchema,
} from "./product.ts";
import {
  CreateOrderRequestSchema,
  OrderSchema,
  OrderService,
  OrderStatus,
  PaymentOutcomeService,
} from "./order.ts";
import { PaymentProcessorService, PaymentService } from "./payment.ts";
import { OrderNotificationService } from "./notification.ts";

const publicServices: DescService[] = [
  UserService,
  AuthService,
  ProductService,
  OrderService,
  PaymentService,
];
const internalServices: DescService[] = [
  InventoryService,
  PaymentProcessorService,
  PaymentOutcomeService,
  OrderNotificationService,
  CustomerContactService,
];

/** The violations of a result that must be invalid. */
function violationsOf(result: ValidationResult) {
  if (result.ok) assert.fail("expected the request to break a rule");
  return result.violations;
}

const validOrderRequest = {
  requestId: "3f1c0a53-order-1",
  items: [{ productId: "p-1", quantity: 2 }],
  shippingAddress: { name: "Ada", line1: "1 Main St", city: "Berlin", postalCode: "10115", country: "DE" },
  paymentMethod: "pm_card_visa",
};

Deno.test("an order round-trips through binary and canonical JSON", () => {
  const order = create(OrderSchema, {
    id: "0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60",
    userId: "5d0e3f9a-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    items: [{
      productId: "p-1",
      name: "Kettle",
      unitPrice: { currencyCode: "USD", amountMinor: 1999n },
      quantity: 2,
    }],
    total: { currencyCode: "USD", amountMinor: 3998n },
    status: OrderStatus.PAID,
  });
  assert.deepEqual(fromBinary(OrderSchema, toBinary(OrderSchema, order)), order);

  const json = toJson(OrderSchema, order, { alwaysEmitImplicit: true });
  // The REST contract: int64 as strings, enums by full name, zero values printed, lowerCamelCase.
  assert.deepEqual((json as { total: unknown }).total, { currencyCode: "USD", amountMinor: "3998" });
  assert.equal((json as { status: unknown }).status, "ORDER_STATUS_PAID");
  assert.equal((json as { failureReason: unknown }).failureReason, "");
  assert.deepEqual(fromJson(OrderSchema, json), order);
});

Deno.test("JSON input accepts int64 money as a number or a string", () => {
  const asNumber = fromJson(OrderSchema, { total: { currencyCode: "EUR", amountMinor: 250 } });
  const asString = fromJson(OrderSchema, { total: { currencyCode: "EUR", amountMinor: "250" } });
  assert.equal(asNumber.total?.amountMinor, 250n);
  assert.deepEqual(asNumber, asString);
});

Deno.test("a valid place-order request passes its protovalidate rules", () => {
  const request = create(CreateOrderRequestSchema, validOrderRequest);
  assert.deepEqual(validateRequest(CreateOrderRequestSchema, request), { ok: true });
});

Deno.test("a request that breaks a protovalidate rule is reported with its field", () => {
  const request = create(CreateOrderRequestSchema, {
    ...validOrderRequest,
    items: [{ productId: "p-1", quantity: 0 }],
    paymentMethod: "4242424242424242",
  });
  const violations = violationsOf(validateRequest(CreateOrderRequestSchema, request));
  assert.deepEqual(violations.map((v) => v.field).sort(), ["items[0].quantity", "payment_method"]);
});

Deno.test("registration rejects a malformed email and a short password by field", () => {
  const request = create(RegisterUserRequestSchema, { email: "ada", password: "short", displayName: "Ada" });
  const violations = violationsOf(validateRequest(RegisterUserRequestSchema, request));
  assert.deepEqual(violations.map((v) => [v.field, v.rule]), [
    ["email", "string.email"],
    ["password", "string.min_len"],
  ]);
});

Deno.test("a new product needs sku, name, category and price, while an update may name one field", () => {
  const empty = violationsOf(
    validateRequest(CreateProductRequestSchema, create(CreateProductRequestSchema, { product: {} })),
  );
  assert.deepEqual(empty.map((v) => v.description).sort(), [
    "product.category is required",
    "product.name is required",
    "product.price is required",
    "product.sku is required",
  ]);
  const stockOnly = create(UpdateProductRequestSchema, {
    product: { id: "p-1", stock: 7 },
    updateMask: { paths: ["stock"] },
  });
  assert.deepEqual(validateRequest(UpdateProductRequestSchema, stockOnly), { ok: true });
  const negativePrice = create(UpdateProductRequestSchema, {
    product: { id: "p-1", price: { currencyCode: "usd", amountMinor: -1n } },
    updateMask: { paths: ["price"] },
  });
  const bad = violationsOf(validateRequest(UpdateProductRequestSchema, negativePrice));
  assert.deepEqual(bad.map((v) => v.field).sort(), [
    "product.price.amount_minor",
    "product.price.currency_code",
  ]);
});

Deno.test("every public RPC has an HTTP rule and no internal RPC has one", () => {
  for (const service of publicServices) {
    for (const method of service.methods) {
      assert.ok(hasOption(method, http), `${service.typeName}.${method.name} has no google.api.http rule`);
    }
  }
  for (const service of internalServices) {
    for (const method of service.methods) {
      assert.ok(!hasOption(method, http), `${service.typeName}.${method.name} must not be routable`);
    }
  }
});

Deno.test("the HTTP rules serve the REST contract's paths", () => {
  const rules = new Map<string, string>();
  for (const service of publicServices) {
    for (const method of service.methods) {
      const rule = getOption(method, http);
      const verb = rule.pattern.case ?? "none";
      const path = rule.pattern.case === "custom" ? rule.pattern.value.path : String(rule.pattern.value);
      rules.set(`${verb.toUpperCase()} ${path}`, rule.body);
    }
  }
  const contract: Array<[string, string]> = [
    ["POST /v1/users:register", "*"],
    ["POST /v1/auth:login", "*"],
    ["POST /v1/auth:refresh", "*"],
    ["POST /v1/auth:logout", "*"],
    ["GET /v1/users/me", ""],
    ["PATCH /v1/users/me", "user"],
    ["POST /v1/users/me:changePassword", "*"],
    ["GET /v1/users", ""],
    ["GET /v1/products", ""],
    ["GET /v1/products/{id}", ""],
    ["POST /v1/products", "product"],
    ["PATCH /v1/products/{product.id}", "product"],
    ["DELETE /v1/products/{id}", ""],
    ["POST /v1/orders", "*"],
    ["GET /v1/orders", ""],
    ["GET /v1/orders/{id}", ""],
    ["POST /v1/orders/{id}:cancel", "*"],
    ["POST /v1/orders/{id}:updateStatus", "*"],
    ["GET /v1/payments", ""],
    ["POST /v1/payments/{id}:refund", "*"],
  ];
  for (const [route, body] of contract) {
    assert.equal(rules.get(route), body, `${route} should be served with body "${body}"`);
  }
});

Deno.test("every List RPC pages the AIP way", () => {
  for (const service of publicServices) {
    for (const method of service.methods.filter((m) => m.name.startsWith("List"))) {
      const fieldNames = (message: DescMessage) => message.fields.map((f) => f.name);
      assert.ok(fieldNames(method.input).includes("page_size"), `${method.name} lacks page_size`);
      assert.ok(fieldNames(method.input).includes("page_token"), `${method.name} lacks page_token`);
      assert.ok(
        fieldNames(method.output).includes("next_page_token"),
        `${method.name} lacks next_page_token`,
      );
    }
  }
});

Deno.test("the descriptor set for Envoy holds every service and its imports", async () => {
  const bytes = await Deno.readFile(new URL("./gen/shop.binpb", import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  for (const service of [...publicServices, ...internalServices]) {
    assert.ok(registry.getService(service.typeName), `${service.typeName} is missing`);
  }
  for (
    const file of ["google/api/annotations.proto", "google/rpc/status.proto", "buf/validate/validate.proto"]
  ) {
    assert.ok(registry.getFile(file), `${file} is missing`);
  }
});

Deno.test("reads are marked side-effect free and the saga's internal calls idempotent, so callers may retry them", () => {
  for (const service of publicServices) {
    for (const method of service.methods.filter((m) => /^(Get|List)/.test(m.name))) {
      assert.equal(method.idempotency, MethodIdempotency.NO_SIDE_EFFECTS, `${method.name}`);
    }
  }
  for (const service of internalServices) {
    for (const method of service.methods) {
      // An internal read has no side effects at all (stronger than idempotent); anything else is idempotent.
      const expected = /^Get/.test(method.name)
        ? MethodIdempotency.NO_SIDE_EFFECTS
        : MethodIdempotency.IDEMPOTENT;
      assert.equal(method.idempotency, expected, `${method.name}`);
    }
  }
});
