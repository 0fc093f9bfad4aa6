import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator } from "@bufbuild/protovalidate";

/** One request field that broke a rule declared in the proto. */
export interface FieldViolation {
  /** The field's path in protobuf names, for example `items[0].quantity` or `product.sku`. */
  field: string;
  /** What is wrong, in words a client developer can act on. */
  description: string;
  /** The rule's id, for example `string.email`. */
  rule: string;
}

/** The outcome of checking a request against its protovalidate rules. */
export type ValidationResult = { ok: true } | { ok: false; violations: FieldViolation[] };

let validator: Validator | undefined;

/**
 * Checks a message against the protovalidate rules declared in its proto.
 *
 * @example
 * ```ts
 * import { create } from "@bufbuild/protobuf";
 * import { RegisterUserRequestSchema } from "@shop/proto/user";
 * const request = create(RegisterUserRequestSchema, { email: "not-an-email" });
 * const result = validateRequest(RegisterUserRequestSchema, request);
 * if (!result.ok) console.log(result.violations[0]?.field); // "email"
 * ```
 */
export function validateRequest<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): ValidationResult {
  validator ??= createValidator();
  const result = validator.validate(schema, message);
  switch (result.kind) {
    case "valid":
      return { ok: true };
    case "invalid":
      return {
        ok: false,
        violations: result.violations.map((violation) => ({
          field: pathToString(violation.field),
          description: violation.message,
          rule: violation.ruleId,
        })),
      };
    case "error":
      // A rule that cannot be evaluated is a bug in our contracts, never the caller's fault.
      throw result.error;
  }
}
