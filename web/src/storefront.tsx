/**
 * The storefront, served at `/`: catalog, product page, cart and checkout, the order's result, order
 * history and the account. Pages live behind the hash (`#/orders/ID`).
 *
 * @module
 */
import { render } from "preact";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Order, OrderStatus } from "@shop/proto/order";
import type { Payment } from "@shop/proto/payment";
import type { Product } from "@shop/proto/product";
import type { User } from "@shop/proto/user";
import { api, type Problem, problemOf, refresh, signIn, signOut } from "./api.ts";
import { addToCart, type CartView, currentCart, reloadAccountCart, setCartQuantity } from "./cart.ts";
import {
  Field,
  formatMoney,
  FormProblem,
  Page,
  parseMinor,
  SignInForm,
  statusName,
  useRoute,
  useSession,
} from "./ui.tsx";

function useCart(): CartView {
  const [cart, setCart] = useState(currentCart);
  useEffect(() => {
    const changed = () => setCart(currentCart());
    addEventListener("shop-cart", changed);
    addEventListener("storage", changed);
    // A change between the first render and now sent its event before anyone listened.
    changed();
    return () => {
      removeEventListener("shop-cart", changed);
      removeEventListener("storage", changed);
    };
  }, []);
  return cart;
}

/** A product's main picture (its first), or nothing when it has none. */
function MainPicture(props: { product: Product }): JSX.Element | null {
  const [image] = props.product.images;
  if (image === undefined) return null;
  return <img class="picture" src={image.uri} alt={image.altText} width={400} height={300} />;
}

const pageSize = 6;

function Catalog(): JSX.Element {
  const [query, setQuery] = useState("");
  const [category, setCategory] = useState("");
  const [minPrice, setMinPrice] = useState("");
  const [maxPrice, setMaxPrice] = useState("");
  const [filters, setFilters] = useState({ query: "", category: "", min: "", max: "" });
  const [tokens, setTokens] = useState<string[]>([""]);
  const [products, setProducts] = useState<Product[]>();
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const pageToken = tokens[tokens.length - 1] ?? "";

  useEffect(() => {
    let live = true;
    const min = parseMinor(filters.min);
    const max = parseMinor(filters.max);
    api.products.listProducts({
      pageSize,
      pageToken,
      query: filters.query,
      category: filters.category,
      ...(min === undefined ? {} : { minPriceMinor: min }),
      ...(max === undefined ? {} : { maxPriceMinor: max }),
    }).then((response) => {
      if (!live) return;
      setProblem(undefined);
      setProducts(response.products);
      setNext(response.nextPageToken);
    }, (error) => live && setProblem(problemOf(error)));
    return () => {
      live = false;
    };
  }, [filters, pageToken]);

  const search = (event: Event) => {
    event.preventDefault();
    setTokens([""]);
    setFilters({ query, category, min: minPrice, max: maxPrice });
  };
  return (
    <Page title="Catalog">
      <form role="search" aria-label="Find products" class="filters" onSubmit={search}>
        <Field
          name="query"
          label="Search"
          inputMode="search"
          value={query}
          onInput={setQuery}
          problem={problem}
        />
        <Field name="category" label="Category" value={category} onInput={setCategory} problem={problem} />
        <Field
          name="min_price_minor"
          label="Min price"
          inputMode="decimal"
          value={minPrice}
          onInput={setMinPrice}
          problem={problem}
        />
        <Field
          name="max_price_minor"
          label="Max price"
          inputMode="decimal"
          value={maxPrice}
          onInput={setMaxPrice}
          problem={problem}
        />
        <button type="submit">Search</button>
      </form>
      <FormProblem problem={problem} fields={["query", "category", "min_price_minor", "max_price_minor"]} />
      {products === undefined
        ? <p>Loading…</p>
        : products.length === 0
        ? <p>No products match.</p>
        : (
          <ul class="products" aria-label="Products">
            {products.map((product) => (
              <li key={product.id} class="card">
                <MainPicture product={product} />
                <h2>
                  <a href={`#/product/${product.id}`}>{product.name}</a>
                </h2>
                <p>{product.category} · {formatMoney(product.price)}</p>
                <p>{product.stock > 0 ? `${product.stock} in stock` : "Out of stock"}</p>
                <AddButton product={product} />
              </li>
            ))}
          </ul>
        )}
      <nav aria-label="Pages" class="pager">
        <button type="button" disabled={tokens.length === 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={next === ""} onClick={() => setTokens([...tokens, next])}>
          Next page
        </button>
      </nav>
    </Page>
  );
}

function AddButton(props: { product: Product }): JSX.Element {
  const { product } = props;
  const [said, setSaid] = useState("");
  const [busy, setBusy] = useState(false);
  const add = async () => {
    setBusy(true);
    setSaid("");
    try {
      await addToCart({
        productId: product.id,
        name: product.name,
        unitPriceMinor: (product.price?.amountMinor ?? 0n).toString(),
        currencyCode: product.price?.currencyCode ?? "USD",
      }, 1);
      setSaid(" Added.");
    } catch (error) {
      setSaid(` Not added: ${problemOf(error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" disabled={product.stock <= 0 || busy} onClick={() => void add()}>
        Add to cart<span class="visually-hidden">: {product.name}</span>
      </button>
      <span role="status">{said}</span>
    </>
  );
}

function ProductPage(props: { id: string }): JSX.Element {
  const [product, setProduct] = useState<Product>();
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => {
    api.products.getProduct({ id: props.id }).then(
      (r) => setProduct(r.product),
      (e) => setProblem(problemOf(e)),
    );
  }, [props.id]);
  if (product === undefined) {
    return (
      <Page title="Product">
        <FormProblem problem={problem} />
        {problem === undefined && <p>Loading…</p>}
      </Page>
    );
  }
  return (
    <Page title={product.name}>
      {product.images.length > 0 && (
        <ul class="pictures" aria-label="Pictures">
          {product.images.map((image) => (
            <li key={image.uri}>
              <img class="picture large" src={image.uri} alt={image.altText} width={400} height={300} />
            </li>
          ))}
        </ul>
      )}
      <p>{product.description}</p>
      <p>Category: {product.category}</p>
      <p>Price: {formatMoney(product.price)}</p>
      <p>{product.stock > 0 ? `In stock (${product.stock})` : "Out of stock"}</p>
      <AddButton product={product} />
    </Page>
  );
}

/** Errors after which the same request may be sent again: it may or may not have arrived. */
function retryable(error: unknown): boolean {
  return error instanceof ConnectError &&
    [Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Aborted].includes(error.code);
}

function Cart(props: { signedIn: boolean }): JSX.Element {
  const cart = useCart();
  const { lines } = cart;
  const [address, setAddress] = useState({
    name: "",
    line1: "",
    line2: "",
    city: "",
    postal_code: "",
    country: "",
  });
  const [paymentMethod, setPaymentMethod] = useState("pm_card_visa");
  // One requestId per checkout attempt: a double click or a retry after a lost answer sends the same
  // one, so at most one order is placed (the cart service answers a retry of a checkout that already
  // emptied the cart with its order); a new one only after an answer arrived.
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const setQuantity = (productId: string, quantity: number) => {
    setProblem(undefined);
    setCartQuantity(productId, quantity).catch((error) => setProblem(problemOf(error)));
  };

  const checkout = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setProblem(undefined);
    const request = {
      requestId,
      shippingAddress: { ...address, postalCode: address.postal_code },
      paymentMethod,
    };
    try {
      for (let attempt = 1;; attempt++) {
        try {
          const { order } = await api.cart.checkout(request);
          setRequestId(crypto.randomUUID());
          // Paid or awaiting payment: the cart service emptied the cart; failed: it kept it.
          await reloadAccountCart().catch(() => undefined);
          location.hash = `#/orders/${order?.id ?? ""}`;
          return;
        } catch (error) {
          if (!retryable(error) || attempt === 4) throw error;
          await new Promise((resolve) => setTimeout(resolve, 400 * attempt));
        }
      }
    } catch (error) {
      setProblem(problemOf(error));
      // The answer was a refusal (nothing was placed): the next attempt is a new request.
      if (!retryable(error)) setRequestId(crypto.randomUUID());
    } finally {
      setBusy(false);
    }
  };

  if (cart.loading) {
    return (
      <Page title="Cart">
        <p>Loading your cart…</p>
      </Page>
    );
  }
  if (lines.length === 0) {
    return (
      <Page title="Cart">
        <FormProblem problem={cart.problem} />
        <p>
          Your cart is empty. <a href="#/">Browse the catalog</a>.
        </p>
      </Page>
    );
  }
  const addressField = (name: keyof typeof address, label: string, autocomplete: string, required = true) => (
    <Field
      name={name}
      label={label}
      autocomplete={autocomplete}
      required={required}
      value={address[name]}
      problem={problem}
      onInput={(value) => setAddress({ ...address, [name]: value })}
    />
  );
  return (
    <Page title="Cart">
      <FormProblem problem={cart.problem} />
      <p>
        {cart.keptIn === "account"
          ? "Kept in your account, at today's prices."
          : "Kept in this browser until you sign in; then it moves into your account."}
      </p>
      <table>
        <caption>Items in your cart</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Price</th>
            <th scope="col">Quantity</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => (
            <tr key={line.productId}>
              <td>
                {line.name}
                {!line.available && <strong class="error unavailable">no longer available</strong>}
              </td>
              <td>
                {formatMoney({ currencyCode: line.currencyCode, amountMinor: BigInt(line.unitPriceMinor) })}
              </td>
              <td>
                <label class="visually-hidden" for={`qty-${line.productId}`}>Quantity of {line.name}</label>
                <input
                  id={`qty-${line.productId}`}
                  type="number"
                  min="0"
                  max="100"
                  class="qty"
                  value={line.quantity}
                  onChange={(e) =>
                    setQuantity(line.productId, Math.max(0, Number(e.currentTarget.value) | 0))}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>Subtotal: {formatMoney(cart.subtotal)}</p>
      {!props.signedIn
        ? (
          <p>
            <a href="#/signin">Sign in</a> or <a href="#/register">create an account</a> to check out.
          </p>
        )
        : (
          <form onSubmit={checkout} aria-label="Checkout">
            <fieldset>
              <legend>Shipping address</legend>
              {addressField("name", "Full name", "name")}
              {addressField("line1", "Address line 1", "address-line1")}
              {addressField("line2", "Address line 2", "address-line2", false)}
              {addressField("city", "City", "address-level2")}
              {addressField("postal_code", "Postal code", "postal-code")}
              {addressField("country", "Country code (2 letters)", "country")}
            </fieldset>
            <fieldset>
              <legend>Payment (test cards)</legend>
              {[
                ["pm_card_visa", "Visa that pays"],
                ["pm_card_chargeDeclined", "Card that is declined"],
                ["pm_card_processing_succeeds", "Card whose payment takes a while"],
              ].map(([value, label]) => (
                <p key={value}>
                  <input
                    type="radio"
                    id={`pm-${value}`}
                    name="payment_method"
                    value={value}
                    checked={paymentMethod === value}
                    onChange={() => setPaymentMethod(value ?? "")}
                  />
                  <label for={`pm-${value}`}>{label}</label>
                </p>
              ))}
            </fieldset>
            <FormProblem problem={problem} fields={Object.keys(address)} />
            <button type="submit" disabled={busy} aria-busy={busy}>
              {busy ? "Placing the order…" : "Place order"}
            </button>
          </form>
        )}
    </Page>
  );
}

function Orders(): JSX.Element {
  const [orders, setOrders] = useState<Order[]>();
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => {
    api.orders.listOrders({ pageSize: 50 }).then((r) => setOrders(r.orders), (e) => setProblem(problemOf(e)));
  }, []);
  return (
    <Page title="Your orders">
      <FormProblem problem={problem} />
      {orders?.length === 0 && <p>No orders yet.</p>}
      <ul aria-label="Orders">
        {orders?.map((order) => (
          <li key={order.id}>
            <a href={`#/orders/${order.id}`}>Order {order.id.slice(0, 8)}</a> · {statusName(order.status)} ·
            {" "}
            {formatMoney(order.total)}
          </li>
        ))}
      </ul>
    </Page>
  );
}

const waiting = [OrderStatus.PENDING, OrderStatus.AWAITING_PAYMENT];

function OrderPage(props: { id: string }): JSX.Element {
  const [order, setOrder] = useState<Order>();
  const [payments, setPayments] = useState<Payment[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const { order } = await api.orders.getOrder({ id: props.id });
        const { payments } = await api.payments.listPayments({ orderId: props.id });
        if (!live) return;
        setOrder(order);
        setPayments(payments);
        // Still waiting for the payment's outcome: look again shortly, without a reload.
        if (order !== undefined && waiting.includes(order.status)) timer = setTimeout(load, 1000);
      } catch (error) {
        if (live) setProblem(problemOf(error));
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [props.id]);

  const cancel = async () => {
    setBusy(true);
    try {
      const response = await api.orders.cancelOrder({ id: props.id, reason: "cancelled by the customer" });
      setOrder(response.order);
      setPayments((await api.payments.listPayments({ orderId: props.id })).payments);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  };
  if (order === undefined) {
    return (
      <Page title="Order">
        <FormProblem problem={problem} />
      </Page>
    );
  }
  return (
    <Page title={`Order ${order.id.slice(0, 8)}`}>
      <p class="status" role="status">
        Status: <strong>{statusName(order.status)}</strong>
        {waiting.includes(order.status) && " — waiting for the payment to complete…"}
      </p>
      {order.failureReason !== "" && <p class="error">Reason: {order.failureReason}</p>}
      <table>
        <caption>Items</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Price</th>
            <th scope="col">Quantity</th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((item) => (
            <tr key={item.productId}>
              <td>{item.name}</td>
              <td>{formatMoney(item.unitPrice)}</td>
              <td>{item.quantity}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>Total: {formatMoney(order.total)}</p>
      {payments.map((payment) => (
        <p key={payment.id} class="payment">
          Payment: {formatMoney(payment.amount)}, refunded {formatMoney(payment.refundedAmount)}
        </p>
      ))}
      <h2>Status history</h2>
      <ol aria-label="Status history">
        {order.statusHistory.map((change, index) => (
          <li key={index}>{statusName(change.status)}{change.reason !== "" && ` (${change.reason})`}</li>
        ))}
      </ol>
      <FormProblem problem={problem} />
      {[OrderStatus.PAID, OrderStatus.PENDING].includes(order.status) && (
        <button type="button" disabled={busy} onClick={cancel}>Cancel order</button>
      )}
    </Page>
  );
}

function Register(): JSX.Element {
  const [form, setForm] = useState({ email: "", password: "", display_name: "" });
  const [problem, setProblem] = useState<Problem>();
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api.users.registerUser({
        email: form.email,
        password: form.password,
        displayName: form.display_name,
      });
      await signIn(form.email, form.password);
      location.hash = "#/";
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  const field = (
    name: keyof typeof form,
    label: string,
    type: "text" | "email" | "password",
    autocomplete: string,
  ) => (
    <Field
      name={name}
      label={label}
      type={type}
      autocomplete={autocomplete}
      value={form[name]}
      problem={problem}
      required
      onInput={(value) => setForm({ ...form, [name]: value })}
    />
  );
  return (
    <Page title="Create an account">
      <form onSubmit={submit} aria-label="Create an account">
        {field("email", "Email", "email", "email")}
        {field("display_name", "Your name", "text", "name")}
        {field("password", "Password", "password", "new-password")}
        <FormProblem problem={problem} fields={Object.keys(form)} />
        <button type="submit">Create account</button>
      </form>
    </Page>
  );
}

function Profile(): JSX.Element {
  const [user, setUser] = useState<User>();
  const [name, setName] = useState("");
  const [passwords, setPasswords] = useState({ current_password: "", new_password: "" });
  const [problem, setProblem] = useState<Problem>();
  const [done, setDone] = useState("");
  useEffect(() => {
    api.users.getCurrentUser({}).then((r) => {
      setUser(r.user);
      setName(r.user?.displayName ?? "");
    }, (e) => setProblem(problemOf(e)));
  }, []);
  const act = (what: () => Promise<unknown>, message: string) => async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    setDone("");
    try {
      await what();
      setDone(message);
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <Page title="Your account">
      <p>{user?.email}</p>
      <form
        aria-label="Profile"
        onSubmit={act(() =>
          api.users.updateCurrentUser({
            user: { displayName: name },
            updateMask: { paths: ["display_name"] },
          }), "Profile saved.")}
      >
        <Field name="display_name" label="Your name" value={name} onInput={setName} problem={problem} />
        <button type="submit">Save</button>
      </form>
      <form
        aria-label="Change password"
        onSubmit={act(() =>
          api.users.changePassword({
            currentPassword: passwords.current_password,
            newPassword: passwords.new_password,
          }), "Password changed.")}
      >
        <Field
          name="current_password"
          label="Current password"
          type="password"
          autocomplete="current-password"
          value={passwords.current_password}
          problem={problem}
          onInput={(v) => setPasswords({ ...passwords, current_password: v })}
        />
        <Field
          name="new_password"
          label="New password"
          type="password"
          autocomplete="new-password"
          value={passwords.new_password}
          problem={problem}
          onInput={(v) => setPasswords({ ...passwords, new_password: v })}
        />
        <button type="submit">Change password</button>
      </form>
      <FormProblem problem={problem} fields={["display_name", "current_password", "new_password"]} />
      <p role="status">{done}</p>
    </Page>
  );
}

function Storefront(): JSX.Element {
  const [page = "", id = ""] = useRoute();
  const signedIn = useSession();
  const count = useCart().lines.reduce((sum, line) => sum + line.quantity, 0);
  const needsSignIn = ["orders", "profile"].includes(page) && !signedIn;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.querySelector<HTMLElement>("main h1")?.focus();
        }}
      >
        Skip to content
      </a>
      <header>
        <nav aria-label="Shop">
          <a href="#/" class="brand">shop</a>
          <a href="#/cart">Cart ({count})</a>
          {signedIn
            ? (
              <>
                <a href="#/orders">Orders</a>
                <a href="#/profile">Account</a>
                <button type="button" onClick={() => void signOut().then(() => (location.hash = "#/"))}>
                  Sign out
                </button>
              </>
            )
            : (
              <>
                <a href="#/signin">Sign in</a>
                <a href="#/register">Register</a>
              </>
            )}
        </nav>
      </header>
      <main id="main">
        {needsSignIn || page === "signin"
          ? (
            <Page title="Sign in">
              <SignInForm onDone={() => (location.hash = needsSignIn ? location.hash : "#/")} />
            </Page>
          )
          : page === "product"
          ? <ProductPage id={id} />
          : page === "cart"
          ? <Cart signedIn={signedIn} />
          : page === "orders" && id !== ""
          ? <OrderPage id={id} />
          : page === "orders"
          ? <Orders />
          : page === "register"
          ? <Register />
          : page === "profile"
          ? <Profile />
          : <Catalog />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root !== null) {
  // A stored refresh token signs in silently before the first render, so signed-in pages open directly.
  void refresh().finally(() => render(<Storefront />, root));
}
