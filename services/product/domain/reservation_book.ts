/**
 * The reservation rules: how a reservation is placed, moves from state to state, and gives its units
 * back, whatever the number of instances and wherever a process dies.
 *
 * @module
 */
import { stockContention } from "./errors.ts";
import type { NewReservation, ProductStore, ReservationRecord, SweepReport } from "./ports.ts";
import {
  holdsNoStock,
  type Reservation,
  type ReservationStatus,
  reservationTransitions,
} from "./reservation.ts";
import type { StockLog } from "./stock_log.ts";

/** Where a reservation stands: its latest decision (`pending` at 0 before the first). */
interface State {
  seq: number;
  status: ReservationStatus;
  shortProductIds: string[];
  time: Date | undefined;
  done: boolean;
}

const beforeFirstDecision: State = {
  seq: 0,
  status: "pending",
  shortProductIds: [],
  time: undefined,
  done: true,
};

/** Options of {@linkcode ReservationBook}. */
export interface ReservationBookOptions {
  /** How old unfinished work must be before a sweep finishes it for a process presumed dead. */
  repairAfterMs?: number;
  /** How many times a decision is tried against other writers before giving up (UNAVAILABLE). */
  maxAttempts?: number;
  /** Told each time a decision lost a race to another writer and is made again. */
  onConflict?: () => void;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The reservations of orders. A reservation's record is placed once (a unique key on the order id);
 * its state is a log of decisions `1, 2, ...` with allowed moves `pending -> reserved | failed |
 * released | expired`, `reserved -> committed | released | expired`, `committed -> released`; a
 * transition is the insert of the next decision, so of a commit and an expiry racing, exactly one wins
 * and the other sees the winner. Every step is idempotent, so any instance may finish what another
 * started. The units move through {@linkcode StockLog}.
 *
 * @example
 * ```ts
 * import { StockLog } from "./stock_log.ts";
 * declare const store: ProductStore;
 * const book = new ReservationBook(store, new StockLog(store));
 * await book.commit("0b6b5f7e-9a51-4c8e-9d1f-3c2a1d4e5f60", new Date());
 * ```
 */
export class ReservationBook {
  #store: ProductStore;
  #stock: StockLog;
  #repairAfterMs: number;
  #maxAttempts: number;
  #onConflict: (() => void) | undefined;

  /** Creates the rules over a store and the stock logs. */
  constructor(store: ProductStore, stock: StockLog, options: ReservationBookOptions = {}) {
    this.#store = store;
    this.#stock = stock;
    this.#repairAfterMs = options.repairAfterMs ?? 30_000;
    this.#maxAttempts = options.maxAttempts ?? 80;
    this.#onConflict = options.onConflict;
  }

  /** The reservation of an order as it stands. */
  async find(orderId: string): Promise<Reservation | undefined> {
    const [record, state] = await Promise.all([this.#store.findReservation(orderId), this.#state(orderId)]);
    return record ? reservationOf(record, state) : undefined;
  }

  /**
   * Reserves every line or none: `reserved`, or `failed` naming the short products. For an order that
   * has a reservation already, that one (a pending one left by a dead process is driven to its end).
   */
  async reserve(request: NewReservation): Promise<Reservation> {
    const fresh: ReservationRecord = {
      orderId: request.orderId,
      lines: request.lines.map((line) => ({ ...line, unitPrice: { ...line.unitPrice } })),
      expireTime: request.expireTime,
      createTime: request.now,
      status: "pending",
      statusSeq: 0,
      updateTime: request.now,
    };
    if (await this.#store.insertReservation(fresh)) {
      const state = await this.#drive(fresh, request.now, beforeFirstDecision);
      this.#remember(fresh, state);
      return reservationOf(fresh, state);
    }
    // Placed before (a retry, or a concurrent duplicate): carry on with that one.
    const [record, state] = await Promise.all([
      this.#store.findReservation(request.orderId),
      this.#state(request.orderId),
    ]);
    if (!record) throw new Error(`the reservation of order ${request.orderId} was refused but is not there`);
    // A pending one is driven again: every step is idempotent, so two drivers cannot double-take.
    if (state.status === "pending") return reservationOf(record, await this.#drive(record, request.now));
    await this.#finish(record, state);
    return reservationOf(record, state);
  }

  /** Makes a reserved reservation committed; any other state is returned unchanged. */
  async commit(orderId: string, now: Date): Promise<Reservation | undefined> {
    return await this.#decide(orderId, now, (s) => s.status === "reserved" ? "committed" : undefined);
  }

  /** Returns the units of a pending, reserved or committed reservation; others are returned unchanged. */
  async release(orderId: string, now: Date): Promise<Reservation | undefined> {
    return await this.#decide(
      orderId,
      now,
      (s) =>
        s.status === "pending" || s.status === "reserved" || s.status === "committed"
          ? "released"
          : undefined,
    );
  }

  /** Expires reservations due by `now` and finishes work that dead processes left half done. */
  async sweep(now: Date): Promise<SweepReport> {
    let expired = 0;
    let repaired = 0;
    for (const record of await this.#store.openReservations(500)) {
      if (record.expireTime > now) continue;
      const { state, moved } = await this.#transition(
        record.orderId,
        now,
        (s) => s.status === "pending" || s.status === "reserved" ? "expired" : undefined,
      );
      if (moved) expired++;
      await this.#finish(record, state);
    }
    // Decisions whose units never came back: the process that made them died before finishing.
    const cutoff = now.getTime() - this.#repairAfterMs;
    for (const decision of await this.#store.unfinishedDecisions(500)) {
      if (decision.time.getTime() > cutoff) continue;
      const [record, state] = await Promise.all([
        this.#store.findReservation(decision.orderId),
        this.#state(decision.orderId),
      ]);
      if (record) await this.#finish(record, state);
      repaired++;
    }
    return { expired, repaired };
  }

  async #decide(
    orderId: string,
    now: Date,
    choose: (state: State) => ReservationStatus | undefined,
  ): Promise<Reservation | undefined> {
    // A reservation this instance decided last time moves from the state it remembers, without reading
    // it: if another writer decided meanwhile, the insert of the next decision is refused and the state
    // read (#transition). Answers that move nothing are always read.
    const recent = this.#recent.get(orderId);
    const moves = recent !== undefined && isMove(recent.state, choose(recent.state));
    const [record, known] = moves
      ? [recent.record, { ...recent.state }]
      : await Promise.all([this.#store.findReservation(orderId), this.#state(orderId)]);
    if (!record) return undefined;
    const { state } = await this.#transition(orderId, now, choose, [], known);
    await this.#finish(record, state);
    this.#remember(record, state);
    return reservationOf(record, state);
  }

  /** Recent reservations of this instance and their last known state, oldest first (at most 10 000). */
  #recent = new Map<string, { record: ReservationRecord; state: State }>();

  #remember(record: ReservationRecord, state: State): void {
    this.#recent.delete(record.orderId);
    this.#recent.set(record.orderId, { record, state: { ...state } });
    if (this.#recent.size > rememberedReservations) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }

  /**
   * Takes every line (side by side: they are different products), then decides reserved or failed,
   * then finishes. A line found closed means another call released or expired the order meanwhile.
   */
  async #drive(record: ReservationRecord, now: Date, known?: State): Promise<State> {
    const outcomes = await Promise.all(
      record.lines.map((line) => this.#stock.take(record.orderId, line, now)),
    );
    const short = record.lines.filter((_, i) => outcomes[i] === "short").map((line) => line.productId);
    const { state } = outcomes.includes("closed")
      ? { state: await this.#state(record.orderId) }
      : await this.#transition(
        record.orderId,
        now,
        (s) => s.status === "pending" ? (short.length > 0 ? "failed" : "reserved") : undefined,
        short,
        known,
        record.lines.map((line) => line.productId),
      );
    await this.#finish(record, state);
    return state;
  }

  /** The latest decision about an order's reservation. */
  async #state(orderId: string): Promise<State> {
    const top = await this.#store.latestDecision(orderId);
    return top
      ? {
        seq: top.seq,
        status: top.status,
        shortProductIds: top.shortProductIds,
        time: top.time,
        done: top.done,
      }
      : beforeFirstDecision;
  }

  /**
   * Moves a reservation to the state `choose` picks from the current one (`known`, or read), by
   * inserting the next decision; a refused insert means another writer decided first, so the state is
   * read and the choice made again. The stock levels of `settle` are awaited alongside.
   */
  async #transition(
    orderId: string,
    now: Date,
    choose: (state: State) => ReservationStatus | undefined,
    shortProductIds: string[] = [],
    known?: State,
    settle: readonly string[] = [],
  ): Promise<{ state: State; moved: boolean }> {
    const levels = this.#stock.levelsWritten(settle);
    let state = known ?? await this.#state(orderId);
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const next = choose(state);
      if (!next || !reservationTransitions[state.status].includes(next)) {
        await levels;
        return { state, moved: false };
      }
      const decided: State = {
        seq: state.seq + 1,
        status: next,
        shortProductIds: next === "failed" ? shortProductIds : [],
        time: now,
        done: !holdsNoStock(next),
      };
      const [inserted] = await Promise.all([
        this.#store.insertDecision({ orderId, ...decided, time: now }),
        levels,
      ]);
      if (inserted) return { state: decided, moved: true };
      this.#onConflict?.();
      if (attempt > 0) await delay(Math.random() * Math.min(40, 2 + attempt * 2));
      state = await this.#state(orderId);
    }
    throw stockContention(orderId);
  }

  /** Hint writes nobody waits for (see {@linkcode settled}). */
  #background = new Set<Promise<void>>();

  #inBackground(write: Promise<void>): void {
    const tracked = write.catch(() => {
      // A hint: the sweeper corrects what a failed write left.
    });
    this.#background.add(tracked);
    void tracked.then(() => this.#background.delete(tracked));
  }

  /** Resolves when the hint writes started so far have ended (for tests and shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#background]);
  }

  /** Makes the stock match the state (closes every line of a no-stock state) and updates the hint. */
  async #finish(record: ReservationRecord, state: State): Promise<void> {
    if (!state.done) {
      const now = state.time ?? new Date();
      await Promise.all(record.lines.map((line) => this.#stock.close(record.orderId, line, now)));
      await Promise.all([
        this.#store.markDecisionDone(record.orderId, state.seq),
        this.#stock.levelsWritten(record.lines.map((line) => line.productId)),
      ]);
      state.done = true;
    }
    if (state.seq > record.statusSeq && isOpen(state.status) !== isOpen(record.status)) {
      // A hint for the sweeper, which looks only at open ones (so pending -> reserved needs no write);
      // a lost or late write only makes the sweeper look once more, so nobody waits for it.
      this.#inBackground(
        this.#store.saveReservationStatus(record.orderId, state.status, state.seq, state.time ?? now()),
      );
      record.status = state.status;
      record.statusSeq = state.seq;
    }
  }
}

/** How many reservations an instance remembers the state of (see ReservationBook's #decide). */
const rememberedReservations = 10_000;

/** Whether `next` is a transition from `state` (a decision to insert), not a no-op. */
function isMove(state: State, next: ReservationStatus | undefined): boolean {
  return next !== undefined && reservationTransitions[state.status].includes(next);
}

/** Whether a reservation in this state may still hold units that an expiry must give back. */
function isOpen(status: ReservationStatus): boolean {
  return status === "pending" || status === "reserved";
}

function now(): Date {
  return new Date();
}

function reservationOf(record: ReservationRecord, state: State): Reservation {
  return {
    orderId: record.orderId,
    lines: record.lines.map((line) => ({ ...line, unitPrice: { ...line.unitPrice } })),
    status: state.status,
    shortProductIds: [...state.shortProductIds],
    expireTime: record.expireTime,
    createTime: record.createTime,
    updateTime: state.time ?? record.createTime,
  };
}
