/**
 * gRPC's own standard services that every shop service serves: health checking and server reflection.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { Health } from "@shop/proto/grpc";
 * declare const transport: Transport;
 * const { status } = await createClient(Health, transport).check({ service: "" });
 * ```
 * @module
 */
export * from "./gen/grpc/health/v1/health_pb.ts";
export * from "./gen/grpc/reflection/v1/reflection_pb.ts";
