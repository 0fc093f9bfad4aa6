import assert from "node:assert/strict";
import { create, type DescService, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  Health,
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "@shop/proto/grpc";
import { InventoryService, ProductService } from "@shop/proto/product";
import { createHealthState, registerHealth } from "./health.ts";
import { registerReflection } from "./reflection.ts";

type Ask = NonNullable<MessageInitShape<typeof ServerReflectionRequestSchema>["messageRequest"]>;

function shopRoutes(services?: DescService[]) {
  return (router: ConnectRouter) => {
    router.service(ProductService, {});
    router.service(InventoryService, {});
    registerReflection(router, services);
    // Registered after reflection on purpose: reflection must still list it.
    registerHealth(router, createHealthState());
  };
}

/** Sends every question on one stream, as grpcurl does, and returns the answers in order. */
async function reflect(asks: Ask[], routes = shopRoutes()): Promise<ServerReflectionResponse[]> {
  const client = createClient(ServerReflection, createRouterTransport(routes));
  async function* requests(): AsyncGenerator<ServerReflectionRequest> {
    for (const messageRequest of asks) {
      yield create(ServerReflectionRequestSchema, { host: "shop.test", messageRequest });
    }
  }
  const answers: ServerReflectionResponse[] = [];
  for await (const answer of client.serverReflectionInfo(requests())) answers.push(answer);
  return answers;
}

async function reflectOne(ask: Ask): Promise<ServerReflectionResponse> {
  const [answer] = await reflect([ask]);
  assert.ok(answer, "no answer");
  return answer;
}

function filesOf(answer: ServerReflectionResponse): FileDescriptorProto[] {
  const response = answer.messageResponse;
  assert.equal(response.case, "fileDescriptorResponse", `expected files, got ${JSON.stringify(response)}`);
  return response.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

function errorOf(answer: ServerReflectionResponse): { code: number; message: string } {
  const response = answer.messageResponse;
  assert.equal(response.case, "errorResponse", `expected an error, got ${response.case}`);
  return { code: response.value.errorCode, message: response.value.errorMessage };
}

/** A client can build every file it received only if every import is among them. */
function assertSelfContained(files: FileDescriptorProto[]): void {
  const names = new Set(files.map((file) => file.name));
  assert.equal(names.size, files.length, "a file was sent twice");
  for (const file of files) {
    for (const dependency of file.dependency) {
      assert.ok(names.has(dependency), `${file.name} imports ${dependency}, which was not sent`);
    }
  }
}

Deno.test("registerReflection() lists every service on the router, itself and Health included", async () => {
  const answer = await reflectOne({ case: "listServices", value: "*" });

  assert.equal(answer.messageResponse.case, "listServicesResponse");
  assert.deepEqual(answer.messageResponse.value.service.map((service) => service.name), [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "shop.product.v1.InventoryService",
    "shop.product.v1.ProductService",
  ]);
  assert.equal(answer.validHost, "shop.test");
  assert.equal(answer.originalRequest?.messageRequest.case, "listServices");
});

Deno.test("registerReflection() given services lists exactly those and itself", async () => {
  const [answer] = await reflect([{ case: "listServices", value: "" }], shopRoutes([ProductService]));

  assert.equal(answer?.messageResponse.case, "listServicesResponse");
  assert.deepEqual(
    answer.messageResponse.value.service.map((service) => service.name),
    ["grpc.reflection.v1.ServerReflection", "shop.product.v1.ProductService"],
  );
});

Deno.test("registerReflection() answers a service name with its file and every file it imports", async () => {
  const files = filesOf(
    await reflectOne({ case: "fileContainingSymbol", value: "shop.product.v1.ProductService" }),
  );

  assert.equal(files[0]?.name, "shop/product/v1/product_service.proto", "the asked-for file comes first");
  const names = files.map((file) => file.name);
  for (
    const expected of [
      "buf/validate/validate.proto",
      "google/api/annotations.proto",
      "google/api/http.proto",
      "google/protobuf/descriptor.proto",
      "google/protobuf/field_mask.proto",
      "shop/common/v1/money.proto",
      "shop/product/v1/product.proto",
    ]
  ) {
    assert.ok(names.includes(expected), `${expected} missing from ${names.join(", ")}`);
  }
  assertSelfContained(files);
  const service = files[0]?.service.find((s) => s.name === "ProductService");
  assert.ok(service?.method.some((method) => method.name === "GetProduct"));
});

Deno.test("registerReflection() finds the file of methods, messages, nested types, fields, enum values and extensions", async () => {
  const cases: Array<[symbol: string, file: string]> = [
    ["shop.product.v1.ProductService.GetProduct", "shop/product/v1/product_service.proto"],
    ["shop.product.v1.GetProductRequest", "shop/product/v1/product_service.proto"],
    ["shop.product.v1.GetProductRequest.id", "shop/product/v1/product_service.proto"],
    [".shop.product.v1.Product", "shop/product/v1/product.proto"],
    ["shop.product.v1.InventoryService", "shop/product/v1/inventory_service.proto"],
    ["shop.common.v1.Money", "shop/common/v1/money.proto"],
    ["google.protobuf.FieldMask", "google/protobuf/field_mask.proto"],
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    ["grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", "grpc/health/v1/health.proto"],
    ["grpc.health.v1.Health.Watch", "grpc/health/v1/health.proto"],
    ["grpc.reflection.v1.ServerReflectionRequest.message_request", "grpc/reflection/v1/reflection.proto"],
    ["buf.validate.field", "buf/validate/validate.proto"],
    ["google.api.http", "google/api/annotations.proto"],
  ];
  const answers = await reflect(cases.map(([value]) => ({ case: "fileContainingSymbol", value })));

  assert.equal(answers.length, cases.length);
  cases.forEach(([symbol, file], i) => {
    const answer = answers[i];
    assert.ok(answer);
    const files = filesOf(answer);
    assert.equal(files[0]?.name, file, symbol);
    assertSelfContained(files);
  });
});

Deno.test("registerReflection() answers unknown names with NOT_FOUND and keeps the stream open", async () => {
  const answers = await reflect([
    { case: "fileContainingSymbol", value: "shop.product.v1.NoSuchThing" },
    { case: "fileByFilename", value: "shop/product/v1/nope.proto" },
    {
      case: "fileContainingExtension",
      value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1 },
    },
    { case: "allExtensionNumbersOfType", value: "shop.product.v1.NoSuchThing" },
    { case: undefined },
    { case: "fileByFilename", value: "shop/common/v1/money.proto" },
  ]);

  assert.deepEqual(answers.slice(0, 5).map((answer) => errorOf(answer).code), [
    Code.NotFound,
    Code.NotFound,
    Code.NotFound,
    Code.NotFound,
    Code.InvalidArgument,
  ]);
  assert.match(errorOf(answers[0] ?? assert.fail()).message, /shop\.product\.v1\.NoSuchThing/);
  const last = answers[5];
  assert.ok(last);
  const files = filesOf(last);
  assert.equal(files[0]?.name, "shop/common/v1/money.proto");
  assertSelfContained(files);
});

Deno.test("registerReflection() answers extension questions from the files it knows", async () => {
  const [byNumber, numbers, none] = await reflect([
    {
      case: "fileContainingExtension",
      value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1159 },
    },
    { case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" },
    { case: "allExtensionNumbersOfType", value: "shop.common.v1.Money" },
  ]);

  assert.ok(byNumber && numbers && none);
  assert.equal(filesOf(byNumber)[0]?.name, "buf/validate/validate.proto");
  assert.equal(numbers.messageResponse.case, "allExtensionNumbersResponse");
  assert.equal(numbers.messageResponse.value.baseTypeName, "google.protobuf.FieldOptions");
  assert.ok(numbers.messageResponse.value.extensionNumber.includes(1159), "buf.validate.field is 1159");
  assert.equal(none.messageResponse.case, "allExtensionNumbersResponse");
  assert.deepEqual(none.messageResponse.value.extensionNumber, []);
});

Deno.test("registerReflection() answers its own and Health's files", async () => {
  const [own, health] = await reflect([
    { case: "fileContainingSymbol", value: ServerReflection.typeName },
    { case: "fileContainingSymbol", value: Health.typeName },
  ]);

  assert.ok(own && health);
  assert.deepEqual(filesOf(own).map((file) => file.name), ["grpc/reflection/v1/reflection.proto"]);
  assert.deepEqual(filesOf(health).map((file) => file.name), ["grpc/health/v1/health.proto"]);
});
