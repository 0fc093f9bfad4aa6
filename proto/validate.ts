/**
 * protovalidate's rule messages (`buf.validate`), generated from the same validate.proto the contracts
 * are compiled against, for code that reads rules or violations.
 *
 * @example
 * ```ts
 * import { file_buf_validate_validate } from "@shop/proto/validate";
 * console.log(file_buf_validate_validate.name); // "buf/validate/validate.proto"
 * ```
 * @module
 */
export * from "./gen/buf/validate/validate_pb.ts";
