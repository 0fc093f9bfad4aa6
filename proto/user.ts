/**
 * The user service's contracts (`shop.user.v1`): accounts, profiles and sign-in.
 *
 * @example
 * ```ts
 * import { createClient, type Transport } from "@connectrpc/connect";
 * import { UserService } from "@shop/proto/user";
 * declare const transport: Transport;
 * const me = await createClient(UserService, transport).getCurrentUser({});
 * ```
 * @module
 */
export * from "./gen/shop/user/v1/user_pb.ts";
export * from "./gen/shop/user/v1/user_service_pb.ts";
export * from "./gen/shop/user/v1/auth_service_pb.ts";
export * from "./gen/shop/user/v1/customer_contact_service_pb.ts";
