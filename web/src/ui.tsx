/**
 * Pieces both pages share: the hash router, labelled form fields that show the API's error for their
 * field, money and dates in words, and the sign-in form.
 *
 * @module
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Money } from "@shop/proto/common";
import { OrderStatus } from "@shop/proto/order";
import { isSignedIn, onSessionChange, type Problem, problemOf, signIn } from "./api.ts";

/**
 * The part of the address after `#`, split into segments (`#/orders/42` -> `["orders", "42"]`); the
 * gateway serves only `/` and `/admin`, so every page of the UI lives behind the hash.
 *
 * @example
 * ```ts ignore
 * const [page, id] = useRoute();
 * ```
 */
export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter((part) => part !== "");
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => {
      setRoute(read());
      // Each page's heading takes the focus, so keyboard and screen reader users start at the top.
      requestAnimationFrame(() => document.querySelector<HTMLElement>("main h1")?.focus());
    };
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

/**
 * Re-renders on sign in and sign out; true while signed in.
 *
 * @example
 * ```ts ignore
 * const signedIn = useSession();
 * ```
 */
export function useSession(): boolean {
  const [signedIn, setSignedIn] = useState(isSignedIn());
  useEffect(() => onSessionChange(() => setSignedIn(isSignedIn())), []);
  return signedIn;
}

/**
 * `12.50 USD` from integer minor units (two decimals; the demo catalog is in USD).
 *
 * @example
 * ```ts
 * formatMoney({ currencyCode: "USD", amountMinor: 1250n }); // "12.50 USD"
 * ```
 */
export function formatMoney(money: Pick<Money, "currencyCode" | "amountMinor"> | undefined): string {
  if (money === undefined) return "";
  const minor = money.amountMinor < 0n ? -money.amountMinor : money.amountMinor;
  const sign = money.amountMinor < 0n ? "-" : "";
  return `${sign}${minor / 100n}.${(minor % 100n).toString().padStart(2, "0")} ${money.currencyCode}`;
}

/**
 * `12.50` (a person's entry) -> 1250n minor units; undefined when it is not an amount.
 *
 * @example
 * ```ts
 * parseMinor("12.5"); // 1250n
 * ```
 */
export function parseMinor(text: string): bigint | undefined {
  const match = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (match === null) return undefined;
  return BigInt(match[1] ?? "0") * 100n + BigInt((match[2] ?? "0").padEnd(2, "0"));
}

/**
 * The words for an order status: `PAID`, `AWAITING PAYMENT`.
 *
 * @example
 * ```ts
 * statusName(OrderStatus.PAID); // "PAID"
 * ```
 */
export function statusName(status: OrderStatus): string {
  return (OrderStatus[status] ?? "UNKNOWN").replace(/_/g, " ");
}

/** Props of {@linkcode Field}. */
export interface FieldProps {
  /** The request field it fills, which is also its id: an API error naming it shows under it. */
  name: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  problem?: Problem | undefined;
  type?: "text" | "email" | "password";
  autocomplete?: string;
  required?: boolean;
  inputMode?: "numeric" | "decimal" | "email" | "search" | undefined;
}

/**
 * A labelled input; the API's error for this field appears right below it and is announced.
 *
 * @example
 * ```tsx ignore
 * <Field name="email" label="Email" value={email} onInput={setEmail} problem={problem} />
 * ```
 */
export function Field(props: FieldProps): JSX.Element {
  const id = `field-${props.name}`;
  const own = props.problem?.field === props.name;
  const attributes = {
    id,
    name: props.name,
    value: props.value,
    required: props.required ?? false,
    autocomplete: props.autocomplete ?? "off",
    "aria-invalid": own,
    "aria-describedby": own ? `${id}-error` : undefined,
    onInput: (event: { currentTarget: HTMLInputElement }) => props.onInput(event.currentTarget.value),
  };
  return (
    <p class="field">
      <label for={id}>{props.label}</label>
      {props.type === "password"
        ? <input type="password" {...attributes} />
        : props.type === "email"
        ? <input type="email" {...attributes} />
        : <input type="text" inputMode={props.inputMode} {...attributes} />}
      {own && <span id={`${id}-error`} class="error" role="alert">{props.problem?.message}</span>}
    </p>
  );
}

/**
 * An error that names no field of the form, announced.
 *
 * @example
 * ```tsx ignore
 * <FormProblem problem={problem} fields={["email", "password"]} />
 * ```
 */
export function FormProblem(props: { problem: Problem | undefined; fields?: string[] }): JSX.Element | null {
  const { problem } = props;
  if (problem === undefined) return null;
  if (problem.field !== undefined && (props.fields ?? []).includes(problem.field)) return null;
  return <p class="error" role="alert">{problem.message}</p>;
}

/**
 * A page: its heading (focusable, so navigation can move focus to it) and content.
 *
 * @example
 * ```tsx ignore
 * <Page title="Your orders">...</Page>
 * ```
 */
export function Page(props: { title: string; children?: ComponentChildren }): JSX.Element {
  useEffect(() => {
    document.title = `${props.title} · shop`;
  }, [props.title]);
  return (
    <>
      <h1 tabIndex={-1}>{props.title}</h1>
      {props.children}
    </>
  );
}

/**
 * The sign-in form (storefront and admin console).
 *
 * @example
 * ```tsx ignore
 * <SignInForm onDone={() => (location.hash = "#/")} />
 * ```
 */
export function SignInForm(props: { onDone: () => void }): JSX.Element {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      await signIn(email, password);
      props.onDone();
    } catch (error) {
      const found = problemOf(error);
      setProblem(
        found.message === "Please sign in again." ? { message: "Wrong email or password." } : found,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-label="Sign in">
      <Field
        name="email"
        label="Email"
        type="email"
        autocomplete="username"
        value={email}
        onInput={setEmail}
        problem={problem}
        required
      />
      <Field
        name="password"
        label="Password"
        type="password"
        autocomplete="current-password"
        value={password}
        onInput={setPassword}
        problem={problem}
        required
      />
      <FormProblem problem={problem} fields={["email", "password"]} />
      <button type="submit" disabled={busy}>Sign in</button>
    </form>
  );
}
