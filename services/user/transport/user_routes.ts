import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { callerOf, requireAdmin, requireUser } from "@shop/platform/auth";
import { decodeTimeCursor, encodeTimeCursor, pageSizeOf } from "@shop/platform/paging";
import { AuthService, CustomerContactService, UserService } from "@shop/proto/user";
import type { Accounts } from "../domain/accounts.ts";
import type { UserCursor } from "../domain/ports.ts";
import { roleFromProto, toUserProto } from "./mapping.ts";

/**
 * The header in which Envoy names the client's address: with `use_remote_address` it is the socket's
 * peer (or the trusted hop of `x-forwarded-for`), and Envoy overwrites any copy a client sent.
 */
const clientAddressHeader = "x-envoy-external-address";

/** The client's address as the gateway saw it; only the gateway's word counts. */
function clientAddress(ctx: HandlerContext): string | undefined {
  return callerOf(ctx).peer === "gateway"
    ? ctx.requestHeader.get(clientAddressHeader) ?? undefined
    : undefined;
}

/** The internal service and the one caller each accepts (by certificate name). */
export const userAllowedPeers: Readonly<Record<string, readonly string[]>> = {
  [CustomerContactService.typeName]: ["notification"],
};

/**
 * The user service's Connect handlers: `shop.user.v1.UserService` and `shop.user.v1.AuthService`, mapping
 * the contract to the account rules and back.
 *
 * @example
 * ```ts
 * import { createRouterTransport } from "@connectrpc/connect";
 * declare const accounts: Accounts;
 * const transport = createRouterTransport(userRoutes(accounts));
 * ```
 */
export function userRoutes(accounts: Accounts): (router: ConnectRouter) => void {
  return (router) => {
    // Internal (notification only, see userAllowedPeers): where the customer's emails go.
    router.service(CustomerContactService, {
      async getCustomerContact(request) {
        const user = await accounts.profile(request.userId);
        return { email: user.email, displayName: user.displayName };
      },
    });
    router.service(UserService, {
      async registerUser(request) {
        const user = await accounts.register(request);
        return { user: toUserProto(user) };
      },
      async getCurrentUser(_request, ctx) {
        return { user: toUserProto(await accounts.profile(requireUser(ctx).id)) };
      },
      async updateCurrentUser(request, ctx) {
        const { id } = requireUser(ctx);
        const user = await accounts.updateProfile(id, request.updateMask?.paths ?? [], {
          displayName: request.user?.displayName ?? "",
        });
        return { user: toUserProto(user) };
      },
      async changePassword(request, ctx) {
        await accounts.changePassword(
          requireUser(ctx).id,
          request.currentPassword,
          request.newPassword,
          clientAddress(ctx),
        );
        return {};
      },
      async listUsers(request, ctx) {
        await accounts.requireCurrentAdmin(requireAdmin(ctx).id);
        const after: UserCursor | undefined = decodeTimeCursor(request.pageToken);
        const page = await accounts.listUsers(pageSizeOf(request.pageSize), after);
        return {
          users: page.users.map(toUserProto),
          nextPageToken: encodeTimeCursor(page.next),
        };
      },
      async setUserRole(request, ctx) {
        await accounts.requireCurrentAdmin(requireAdmin(ctx).id);
        return { user: toUserProto(await accounts.setRole(request.id, roleFromProto(request.role))) };
      },
    });
    router.service(AuthService, {
      async login(request, ctx) {
        const session = await accounts.login({ ...request, clientAddress: clientAddress(ctx) });
        return { ...toTokens(session), tokenType: "Bearer" };
      },
      async refreshToken(request) {
        return { ...toTokens(await accounts.refresh(request.refreshToken)), tokenType: "Bearer" };
      },
      async logout(request) {
        await accounts.logout(request.refreshToken);
        return {};
      },
    });
  };
}

function toTokens(session: { accessToken: string; refreshToken: string; expiresInSeconds: number }) {
  return {
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
    expiresIn: session.expiresInSeconds,
  };
}
