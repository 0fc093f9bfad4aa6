/**
 * Google's rich error model (`google.rpc`) and HTTP annotations (`google.api`), as the services use them
 * in error details and the gateway uses them for transcoding.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { ErrorInfoSchema } from "@shop/proto/google";
 * const info = create(ErrorInfoSchema, { reason: "OUT_OF_STOCK", domain: "shop.example" });
 * ```
 * @module
 */
export * from "./gen/google/rpc/status_pb.ts";
export * from "./gen/google/rpc/error_details_pb.ts";
export * from "./gen/google/rpc/code_pb.ts";
export * from "./gen/google/api/annotations_pb.ts";
export * from "./gen/google/api/http_pb.ts";
