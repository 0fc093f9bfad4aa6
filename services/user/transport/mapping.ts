import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Role as RoleProto, type User as UserProto, UserSchema } from "@shop/proto/user";
import type { Role, User } from "../domain/user.ts";

/**
 * A domain user as the contract shows it.
 *
 * @example
 * ```ts
 * declare const user: User;
 * const message = toUserProto(user);
 * ```
 */
export function toUserProto(user: User): UserProto {
  return create(UserSchema, {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role === "admin" ? RoleProto.ADMIN : RoleProto.CUSTOMER,
    createTime: timestampFromDate(user.createTime),
    updateTime: timestampFromDate(user.updateTime),
  });
}

/**
 * The domain role of a contract role (the proto rules already refuse UNSPECIFIED).
 *
 * @example
 * ```ts
 * roleFromProto(RoleProto.ADMIN); // "admin"
 * ```
 */
export function roleFromProto(role: RoleProto): Role {
  return role === RoleProto.ADMIN ? "admin" : "customer";
}
