/**
 * The kit every shop service is built on. It grows with the foundation issues; see its README.
 *
 * @module
 */
export {
  type FieldViolation,
  validateRequest,
  type ValidationResult,
} from "./validation/validate_request.ts";
