// deno-lint-ignore-file no-console -- a script: its one line of output is its interface
/**
 * The OpenAPI 3 document of the public REST API, generated from the protos as Envoy's transcoder reads
 * them: the `google.api.http` rule of every method of the gateway's public services, the request and
 * response messages in protobuf's canonical JSON mapping (lowerCamelCase names, int64 as strings, enums by
 * name, well-known types as their JSON forms), protovalidate's rules where JSON Schema has a word for them,
 * who may call each method (from the gateway's policy table), and the answers every call may get: the
 * JSON error shape `{code, message, details}` with the HTTP status of its gRPC code, 429 included.
 *
 * `deno task gen` writes it to `proto/gen/openapi.json` (and `gen:check` fails when it is stale); the gateway
 * serves it at `GET /openapi.json`.
 *
 * ```sh
 * deno run -A scripts/lib/openapi.ts --descriptor=set.binpb --out=proto/gen/openapi.json
 * ```
 *
 * @module
 */
import {
  createFileRegistry,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  fromBinary,
  getOption,
  hasOption,
  isFieldSet,
  ScalarType,
} from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { http, type HttpRule } from "@shop/proto/google";
import {
  field as fieldRules,
  type FieldRules,
  Ignore,
  RepeatedRulesSchema,
  type StringRules,
  StringRulesSchema,
} from "@shop/proto/validate";
import { type Access, methodPolicies, publicServices } from "../../envoy/gateway_config.ts";

/** A JSON Schema (the OpenAPI 3.0 dialect) or a reference to one. */
export type Schema = Record<string, unknown>;

/** The generated document, a plain JSON value. */
export type OpenApiDocument = Record<string, unknown>;

/** Options of {@linkcode openApiDocument}. */
export interface OpenApiOptions {
  /** `info.version`. */
  version?: string;
  /** The gateway's address for `servers` (`https://127.0.0.1:8443`, the dev default). */
  server?: string;
}

const errorRef = { $ref: "#/components/schemas/Status" };

/** The HTTP statuses the transcoder gives gRPC codes (`convert_grpc_status`), for the descriptions. */
const documentedErrors: Record<number, string> = {
  400:
    "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE: a request that breaks a rule (a field's constraint, an unknown field or query parameter, JSON that does not parse), or a state that does not allow it",
  401: "UNAUTHENTICATED: no valid access token where one is needed, or wrong credentials",
  403: "PERMISSION_DENIED: the token's user may not do this (not an admin, not the owner)",
  404: "NOT_FOUND: no such resource",
  409: "ALREADY_EXISTS or ABORTED: it exists already, or a concurrent change won",
  429: "RESOURCE_EXHAUSTED: a rate limit or throttle; retry after `retry-after` seconds",
};

/** The statuses one operation may answer besides 200. */
function errorStatuses(access: Access, httpMethod: string): number[] {
  const statuses = [400, 401];
  if (access !== "public") statuses.push(403);
  statuses.push(404);
  if (httpMethod !== "get") statuses.push(409);
  statuses.push(429);
  return statuses;
}

function errorResponse(status: number): Record<string, unknown> {
  return {
    description: documentedErrors[status] ?? "an error",
    ...(status === 429
      ? {
        headers: {
          "retry-after": { description: "Seconds to wait before trying again", schema: { type: "integer" } },
        },
      }
      : {}),
    content: { "application/json": { schema: errorRef } },
  };
}

/** Comments of the protos, by element full name (when the descriptor set kept source info). */
function commentsOf(files: readonly FileDescriptorProto[]): Map<string, string> {
  const comments = new Map<string, string>();
  for (const file of files) {
    const byPath = new Map<string, string>();
    for (const location of file.sourceCodeInfo?.location ?? []) {
      const text = location.leadingComments.trim();
      if (text !== "") byPath.set(location.path.join(","), text.replace(/\s+/g, " "));
    }
    const pkg = file.package === "" ? "" : `${file.package}.`;
    file.service.forEach((service, s) => {
      const name = `${pkg}${service.name}`;
      const text = byPath.get(`6,${s}`);
      if (text !== undefined) comments.set(name, text);
      service.method.forEach((method, m) => {
        const methodText = byPath.get(`6,${s},2,${m}`);
        if (methodText !== undefined) comments.set(`${name}.${method.name}`, methodText);
      });
    });
    const walk = (messages: FileDescriptorProto["messageType"], prefix: string, path: string) => {
      messages.forEach((message, i) => {
        const name = `${prefix}${message.name}`;
        const at = `${path}${i}`;
        const text = byPath.get(at);
        if (text !== undefined) comments.set(name, text);
        message.field.forEach((field, f) => {
          const fieldText = byPath.get(`${at},2,${f}`);
          if (fieldText !== undefined) comments.set(`${name}.${field.name}`, fieldText);
        });
        walk(message.nestedType, `${name}.`, `${at},3,`);
      });
    };
    walk(file.messageType, pkg, "4,");
  }
  return comments;
}

const int64Types = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

function scalarSchema(type: ScalarType): Schema {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    default:
      // int64 and its kin: canonical JSON prints them as strings (and accepts numbers too).
      return { type: "string", format: int64Types.has(type) ? "int64" : undefined, pattern: "^-?[0-9]+$" };
  }
}

/** The JSON forms of the well-known types the contracts use. */
const wellKnown: Record<string, Schema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.FieldMask": {
    type: "string",
    description: "Field paths in lowerCamelCase, separated by commas",
  },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": {},
  "google.protobuf.Any": { type: "object", required: ["@type"], properties: { "@type": { type: "string" } } },
  "google.protobuf.StringValue": { type: "string" },
  "google.protobuf.BoolValue": { type: "boolean" },
  "google.protobuf.Int32Value": { type: "integer", format: "int32" },
  "google.protobuf.Int64Value": { type: "string", pattern: "^-?[0-9]+$" },
};

type NumericRules = {
  const?: number | bigint;
  lessThan: { case: "lt" | "lte"; value: number | bigint } | { case: undefined };
  greaterThan: { case: "gt" | "gte"; value: number | bigint } | { case: undefined };
  in: Array<number | bigint>;
  notIn: Array<number | bigint>;
};

/** protovalidate's string rules in JSON Schema words; the others stay in the description. */
function stringConstraints(rules: StringRules): Schema {
  const out: Schema = {};
  if (isFieldSet(rules, StringRulesSchema.field.minLen)) out.minLength = Number(rules.minLen);
  if (isFieldSet(rules, StringRulesSchema.field.maxLen)) out.maxLength = Number(rules.maxLen);
  if (isFieldSet(rules, StringRulesSchema.field.len)) {
    out.minLength = Number(rules.len);
    out.maxLength = Number(rules.len);
  }
  if (isFieldSet(rules, StringRulesSchema.field.pattern)) out.pattern = rules.pattern;
  if (rules.in.length > 0) out.enum = [...rules.in];
  if (rules.wellKnown.case === "email") out.format = "email";
  if (rules.wellKnown.case === "uuid") out.format = "uuid";
  return out;
}

function numericConstraints(rules: NumericRules, int64: boolean): Schema {
  const out: Schema = {};
  // int64 values are strings in JSON: their bounds cannot be said in JSON Schema.
  if (int64) return out;
  if (rules.greaterThan.case === "gte") out.minimum = Number(rules.greaterThan.value);
  if (rules.greaterThan.case === "gt") out.minimum = Number(rules.greaterThan.value) + 1;
  if (rules.lessThan.case === "lte") out.maximum = Number(rules.lessThan.value);
  if (rules.lessThan.case === "lt") out.maximum = Number(rules.lessThan.value) - 1;
  if (rules.in.length > 0) out.enum = rules.in.map(Number);
  return out;
}

/** Whether a field's zero value (or its absence, the same thing in proto3 JSON) breaks its rules. */
function zeroIsRefused(field: DescField, rules: FieldRules | undefined): boolean {
  if (rules === undefined || rules.ignore === Ignore.IF_ZERO_VALUE) return false;
  if (rules.required) return true;
  const { type } = rules;
  switch (type.case) {
    case "string":
      return (isFieldSet(type.value, StringRulesSchema.field.minLen) && type.value.minLen > 0n) ||
        type.value.wellKnown.case === "uuid" || type.value.wellKnown.case === "email" ||
        (isFieldSet(type.value, StringRulesSchema.field.pattern) && !new RegExp(type.value.pattern).test(""));
    case "enum":
      return type.value.notIn.includes(0) || (type.value.in.length > 0 && !type.value.in.includes(0));
    case "repeated":
      return isFieldSet(type.value, RepeatedRulesSchema.field.minItems) && type.value.minItems > 0n;
    case "int32":
    case "int64":
    case "uint32":
    case "uint64": {
      const numeric = type.value as unknown as NumericRules;
      const zero = 0;
      return (numeric.greaterThan.case === "gt" && Number(numeric.greaterThan.value) >= zero) ||
        (numeric.greaterThan.case === "gte" && Number(numeric.greaterThan.value) > zero) ||
        (numeric.notIn.map(Number).includes(zero));
    }
    default:
      return field.fieldKind === "message" && rules.required;
  }
}

class SchemaBuilder {
  readonly schemas: Record<string, Schema> = {};
  readonly #comments: Map<string, string>;

  constructor(comments: Map<string, string>) {
    this.#comments = comments;
  }

  /** A reference to a message's schema (made on first use), or the JSON form of a well-known type. */
  message(message: DescMessage): Schema {
    const known = wellKnown[message.typeName];
    if (known !== undefined) return { ...known };
    const name = message.typeName;
    if (!(name in this.schemas)) {
      this.schemas[name] = {}; // A placeholder first: messages may refer to themselves.
      this.schemas[name] = this.#messageSchema(message, new Set());
    }
    return { $ref: `#/components/schemas/${name}` };
  }

  /** A message's schema inline, without some of its fields (those bound to the path). */
  messageWithout(message: DescMessage, left: Set<string>): Schema {
    return this.#messageSchema(message, left);
  }

  #messageSchema(message: DescMessage, left: Set<string>): Schema {
    const properties: Record<string, Schema> = {};
    const required: string[] = [];
    for (const field of message.fields) {
      if (left.has(field.name)) continue;
      const rules = hasOption(field, fieldRules) ? getOption(field, fieldRules) : undefined;
      const schema = this.field(field, rules);
      if (zeroIsRefused(field, rules)) {
        required.push(field.jsonName);
        properties[field.jsonName] = schema;
      } else {
        // Protobuf's JSON mapping reads null as the field's default: accepted wherever leaving it out is.
        properties[field.jsonName] = "$ref" in schema || "anyOf" in schema
          ? { nullable: true, allOf: [schema] }
          : { ...schema, nullable: true };
      }
    }
    const description = this.#comments.get(message.typeName);
    return {
      type: "object",
      ...(description === undefined ? {} : { description }),
      properties,
      ...(required.length > 0 ? { required } : {}),
      // No additionalProperties: false. The transcoder ignores JSON fields it does not know (they never
      // reach a service), so a request with one is not refused and the document must not say otherwise.
    };
  }

  enumSchema(desc: DescEnum): Schema {
    return { type: "string", enum: desc.values.map((v) => v.name) };
  }

  /** One field's schema with the rules JSON Schema can say. */
  field(field: DescField, rules: FieldRules | undefined): Schema {
    const described = (schema: Schema): Schema => {
      const text = this.#comments.get(`${field.parent.typeName}.${field.name}`);
      const celRules = rules?.cel.map((rule) => rule.message || rule.expression).filter((t) => t !== "") ??
        [];
      const parts = [text, ...celRules.map((t) => `Rule: ${t}.`)].filter((t) => t !== undefined);
      // A description beside a $ref would be ignored (OpenAPI 3.0): the referenced schema has its own.
      return parts.length === 0 || "$ref" in schema ? schema : { ...schema, description: parts.join(" ") };
    };
    const single = (kind: "scalar" | "enum" | "message"): Schema => {
      switch (kind) {
        case "scalar": {
          const scalar = field.scalar ?? ScalarType.STRING;
          return this.#constrained(scalarSchema(scalar), rules, int64Types.has(scalar));
        }
        case "enum": {
          const schema = field.enum === undefined ? { type: "string" } : this.enumSchema(field.enum);
          if (rules?.type.case === "enum") {
            const { notIn, in: only } = rules.type.value;
            const values = (field.enum?.values ?? []).filter((v) =>
              !notIn.includes(v.number) && (only.length === 0 || only.includes(v.number))
            );
            const allowed = rules.ignore === Ignore.IF_ZERO_VALUE
              ? (field.enum?.values ?? []).filter((v) => v.number === 0 || values.includes(v))
              : values;
            return { type: "string", enum: allowed.map((v) => v.name) };
          }
          return schema;
        }
        case "message":
          return field.message === undefined ? { type: "object" } : this.message(field.message);
      }
    };
    switch (field.fieldKind) {
      case "scalar":
        return described(single("scalar"));
      case "enum":
        return described(single("enum"));
      case "message":
        return described(single("message"));
      case "list": {
        const items = field.listKind === "scalar"
          ? scalarSchema(field.scalar)
          : field.listKind === "enum"
          ? this.enumSchema(field.enum)
          : this.message(field.message);
        const schema: Schema = { type: "array", items };
        if (rules?.type.case === "repeated") {
          const repeated = rules.type.value;
          if (isFieldSet(repeated, RepeatedRulesSchema.field.minItems)) {
            schema.minItems = Number(repeated.minItems);
          }
          if (isFieldSet(repeated, RepeatedRulesSchema.field.maxItems)) {
            schema.maxItems = Number(repeated.maxItems);
          }
          if (repeated.unique) schema.uniqueItems = true;
        }
        return described(schema);
      }
      case "map": {
        const values = field.mapKind === "scalar"
          ? scalarSchema(field.scalar)
          : field.mapKind === "enum"
          ? this.enumSchema(field.enum)
          : this.message(field.message);
        return described({ type: "object", additionalProperties: values });
      }
    }
  }

  #constrained(base: Schema, rules: FieldRules | undefined, int64: boolean): Schema {
    if (rules === undefined) return base;
    const { type } = rules;
    let constraints: Schema = {};
    if (type.case === "string") constraints = stringConstraints(type.value);
    else if (
      type.case !== undefined && type.case !== "bool" && type.case !== "bytes" && type.case !== "enum"
    ) {
      if (
        type.case !== "repeated" && type.case !== "map" && type.case !== "any" && type.case !== "duration" &&
        type.case !== "timestamp" && type.case !== "fieldMask"
      ) {
        constraints = numericConstraints(type.value as unknown as NumericRules, int64);
      }
    }
    if (Object.keys(constraints).length === 0) return base;
    const schema = { ...base, ...constraints };
    // The zero value passes when the rules say to ignore it (an update that leaves the field alone).
    if (rules.ignore === Ignore.IF_ZERO_VALUE) {
      const zero = base.type === "string" ? "" : base.type === "boolean" ? false : 0;
      return { anyOf: [{ ...base, enum: [zero] }, schema] };
    }
    return schema;
  }
}

/** One segment of a path template: `{product.id}` or `{name=shelves/*}` -> the field path. */
const templateVariable = /\{([a-zA-Z0-9_.]+)(?:=[^}]*)?\}/g;

interface Binding {
  method: string;
  path: string;
  body: string;
  responseBody: string;
}

function bindingsOf(rule: HttpRule): Binding[] {
  const own: Binding[] = [];
  const { pattern } = rule;
  if (pattern.case !== undefined) {
    if (pattern.case === "custom") {
      own.push({
        method: pattern.value.kind.toLowerCase(),
        path: pattern.value.path,
        body: rule.body,
        responseBody: rule.responseBody,
      });
    } else {
      own.push({
        method: pattern.case,
        path: pattern.value,
        body: rule.body,
        responseBody: rule.responseBody,
      });
    }
  }
  return [...own, ...rule.additionalBindings.flatMap(bindingsOf)];
}

/** The JSON name path of a proto field path (`product.id` -> fields and their json names). */
function fieldPath(message: DescMessage, path: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const part of path.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === part);
    if (field === undefined) throw new Error(`no field ${path} in ${message.typeName}`);
    fields.push(field);
    current = field.message;
  }
  return fields;
}

/** Query parameters: every field not bound elsewhere; nested messages by dotted names. */
function queryParameters(
  builder: SchemaBuilder,
  message: DescMessage,
  bound: Set<string>,
  prefix = "",
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const field of message.fields) {
    const protoPath = `${prefix}${field.name}`;
    if (bound.has(protoPath)) continue;
    const rules = hasOption(field, fieldRules) ? getOption(field, fieldRules) : undefined;
    if (field.fieldKind === "message" && wellKnown[field.message.typeName] === undefined) {
      out.push(...queryParameters(builder, field.message, bound, `${protoPath}.`));
      continue;
    }
    if (field.fieldKind === "map" || (field.fieldKind === "list" && field.listKind === "message")) continue;
    const schema = builder.field(field, rules);
    out.push({
      name: `${
        prefix === "" ? "" : prefix.split(".").filter((p) => p !== "").map(camel).join(".") + "."
      }${field.jsonName}`,
      in: "query",
      required: zeroIsRefused(field, rules),
      schema,
      ...(field.fieldKind === "list" ? { style: "form", explode: true } : {}),
    });
  }
  return out;
}

/** `product.id` -> `productId`: OpenAPI tools read a dot in a path parameter as a property access. */
function pathParameterName(variable: string): string {
  return camel(variable.replaceAll(".", "_"));
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function operation(
  builder: SchemaBuilder,
  comments: Map<string, string>,
  method: DescMethod,
  binding: Binding,
  access: Access,
): Record<string, unknown> {
  const input = method.input;
  const variables = [...binding.path.matchAll(templateVariable)].map((m) => m[1] ?? "");
  const parameters: Array<Record<string, unknown>> = variables.map((variable) => {
    const fields = fieldPath(input, variable);
    const last = fields.at(-1);
    if (last === undefined) throw new Error(`empty path variable in ${binding.path}`);
    const rules = hasOption(last, fieldRules) ? getOption(last, fieldRules) : undefined;
    return {
      name: pathParameterName(variable),
      in: "path",
      required: true,
      ...(variable.includes(".") ? { description: `The request's \`${variable}\`` } : {}),
      schema: builder.field(last, rules),
    };
  });
  const bound = new Set(variables);
  let requestBody: Record<string, unknown> | undefined;
  if (binding.body === "*") {
    const topLevel = new Set(variables.filter((v) => !v.includes(".")));
    requestBody = {
      required: true,
      content: { "application/json": { schema: builder.messageWithout(input, topLevel) } },
    };
  } else if (binding.body !== "") {
    const [bodyField] = fieldPath(input, binding.body);
    if (bodyField?.message === undefined) {
      throw new Error(`body ${binding.body} of ${method.name} is no message`);
    }
    bound.add(binding.body);
    requestBody = {
      required: true,
      content: { "application/json": { schema: builder.message(bodyField.message) } },
    };
  }
  if (binding.body !== "*") parameters.push(...queryParameters(builder, input, bound));

  const output = binding.responseBody === ""
    ? builder.message(method.output)
    : builder.field(fieldPath(method.output, binding.responseBody)[0] as DescField, undefined);
  const responses: Record<string, unknown> = {
    200: { description: "OK", content: { "application/json": { schema: output } } },
  };
  for (const status of errorStatuses(access, binding.method)) responses[status] = errorResponse(status);

  const who = access === "public"
    ? "Anyone (a valid token is still checked and passed on)."
    : access === "admin"
    ? "Admins only."
    : "Signed in.";
  const comment = comments.get(`${method.parent.typeName}.${method.name}`);
  return {
    operationId: `${method.parent.name}_${method.name}`,
    tags: [method.parent.typeName],
    summary: `${method.parent.name}.${method.name}`,
    description: [comment, who].filter((t) => t !== undefined).join(" "),
    ...(access === "public" ? { security: [{}, { bearer: [] }] } : { security: [{ bearer: [] }] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody === undefined ? {} : { requestBody }),
    responses,
  };
}

/** Routes of the gateway that are not transcoded methods. */
function plainRoutes(): Record<string, unknown> {
  return {
    "/.well-known/jwks.json": {
      get: {
        operationId: "Jwks",
        tags: ["gateway"],
        summary: "The public keys that verify access tokens (ES256)",
        security: [{}],
        responses: {
          200: {
            description: "A JSON Web Key Set",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["keys"],
                  properties: {
                    keys: {
                      type: "array",
                      items: {
                        type: "object",
                        required: ["kty", "kid", "alg"],
                        properties: {
                          kty: { type: "string" },
                          kid: { type: "string" },
                          alg: { type: "string" },
                          use: { type: "string" },
                          crv: { type: "string" },
                          x: { type: "string" },
                          y: { type: "string" },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          429: errorResponse(429),
        },
      },
    },
    "/v1/webhooks/stripe": {
      post: {
        operationId: "StripeWebhook",
        tags: ["gateway"],
        summary: "Stripe's payment events",
        description:
          "For Stripe only: the body is forwarded byte for byte and must carry a valid `stripe-signature` of the shop's webhook secret; anything else is refused with 400.",
        security: [{}],
        parameters: [{ name: "stripe-signature", in: "header", required: true, schema: { type: "string" } }],
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: {
          200: {
            description: "The event was recorded",
            content: { "application/json": { schema: { type: "object" } } },
          },
          400: errorResponse(400),
          429: errorResponse(429),
        },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "OpenApi",
        tags: ["gateway"],
        summary: "This document",
        security: [{}],
        responses: {
          200: {
            description: "The OpenAPI 3 document",
            content: { "application/json": { schema: { type: "object" } } },
          },
          429: errorResponse(429),
        },
      },
    },
  };
}

/**
 * Builds the document from a `FileDescriptorSet` (binary, as `buf build` writes it; with source info its
 * comments become descriptions).
 *
 * @example
 * ```ts ignore
 * const doc = openApiDocument(await Deno.readFile("proto/gen/shop.binpb"));
 * console.log(Object.keys(doc.paths as object));
 * ```
 */
export function openApiDocument(descriptorSet: Uint8Array, options: OpenApiOptions = {}): OpenApiDocument {
  const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
  const registry = createFileRegistry(set);
  const comments = commentsOf(set.file);
  const builder = new SchemaBuilder(comments);
  const policies = new Map(methodPolicies().map((p) => [p.path, p]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { service: known } of publicServices) {
    const service = registry.getService(known.typeName);
    if (service === undefined) throw new Error(`the descriptor set has no ${known.typeName}`);
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const policy = policies.get(`/${service.typeName}/${method.name}`);
      if (policy === undefined) {
        throw new Error(`the gateway has no route for ${service.typeName}/${method.name}`);
      }
      for (const binding of bindingsOf(getOption(method, http))) {
        const path = binding.path.replace(
          templateVariable,
          (_, name: string) => `{${pathParameterName(name)}}`,
        );
        paths[path] ??= {};
        paths[path][binding.method] = operation(builder, comments, method, binding, policy.access);
      }
    }
  }
  Object.assign(paths, plainRoutes());
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  const schemas = Object.fromEntries(Object.entries(builder.schemas).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.0.3",
    info: {
      title: "shop REST API",
      version: options.version ?? "v1",
      description:
        "The public REST/JSON API of the shop's gateway, generated from the protos (`deno task gen`). JSON is protobuf's canonical mapping: lowerCamelCase names, int64 values as strings, enums by name, timestamps in RFC 3339. Every error, the services' and the gateway's own, is `{code, message, details}` with `code` the gRPC code and the HTTP status that code maps to. Rate limits answer 429 with `retry-after`.",
    },
    servers: [{ url: options.server ?? "https://127.0.0.1:8443" }],
    paths: sortedPaths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "An access token from POST /v1/auth:login, in the Authorization header only",
        },
      },
      schemas: {
        ...schemas,
        Status: {
          type: "object",
          description: "An error: google.rpc.Status in JSON",
          required: ["code", "message"],
          properties: {
            code: { type: "integer", minimum: 1, maximum: 16, description: "The gRPC status code" },
            message: { type: "string" },
            details: {
              type: "array",
              items: { type: "object", required: ["@type"], properties: { "@type": { type: "string" } } },
            },
          },
        },
      },
    },
  };
}

if (import.meta.main) {
  const args = Object.fromEntries(
    Deno.args.map((arg) => arg.replace(/^--/, "").split("=", 2) as [string, string]),
  );
  const descriptor = args.descriptor;
  const out = args.out;
  if (descriptor === undefined || out === undefined) {
    console.error("usage: openapi.ts --descriptor=SET.binpb --out=openapi.json");
    Deno.exit(2);
  }
  const document = openApiDocument(await Deno.readFile(descriptor));
  await Deno.writeTextFile(out, JSON.stringify(document, null, 2) + "\n");
}
