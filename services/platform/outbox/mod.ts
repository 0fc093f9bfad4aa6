/**
 * The relay of a transactional outbox, shared by every service that announces its changes.
 *
 * @example
 * ```ts
 * import { OutboxRelay } from "./mod.ts";
 * ```
 * @module
 */
export * from "./outbox_relay.ts";
export * from "./outbox_config.ts";
export * from "./outbox_metrics.ts";
