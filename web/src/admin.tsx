/**
 * The admin console, served at `/admin`: products (create, edit with an update mask, stock, delete),
 * every order with ship and deliver, refunds (full or partial, with what is left), and the users.
 * A signed-in customer gets a "not allowed" page; the gateway and the services refuse them anyway.
 *
 * @module
 */
import { render } from "preact";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Order, OrderStatus } from "@shop/proto/order";
import type { Payment } from "@shop/proto/payment";
import type { Product } from "@shop/proto/product";
import { Role, type User } from "@shop/proto/user";
import { api, type Problem, problemOf, refresh, signOut } from "./api.ts";
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

const emptyProduct = {
  sku: "",
  name: "",
  description: "",
  category: "",
  price: "",
  stock: "",
  uri: "",
  alt_text: "",
};

/** Labels of the form's fields that are not their key with a capital letter. */
const labels: Partial<Record<keyof typeof emptyProduct, string>> = {
  price: "Price (USD)",
  uri: "Picture (a /images/ path or an https URL)",
  alt_text: "Alt text of the picture (what it shows)",
};
const optional: ReadonlyArray<keyof typeof emptyProduct> = ["description", "uri", "alt_text"];

/** The form's text of a product's field; the picture fields are its main (first) picture. */
function shown(product: Product, key: keyof typeof emptyProduct): string {
  if (key === "price") return formatMoney(product.price).split(" ")[0] ?? "";
  if (key === "uri") return product.images[0]?.uri ?? "";
  if (key === "alt_text") return product.images[0]?.altText ?? "";
  return String(product[key]);
}

function ProductForm(props: { product?: Product; onSaved: () => void }): JSX.Element {
  const { product } = props;
  const [form, setForm] = useState(
    product === undefined ? emptyProduct : Object.fromEntries(
      (Object.keys(emptyProduct) as Array<keyof typeof emptyProduct>).map((
        key,
      ) => [key, shown(product, key)]),
    ) as typeof emptyProduct,
  );
  const [problem, setProblem] = useState<Problem>();
  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    const amountMinor = parseMinor(form.price);
    if (amountMinor === undefined) {
      return setProblem({ field: "price", message: "Enter a price such as 12.50" });
    }
    const fields = {
      sku: form.sku,
      name: form.name,
      description: form.description,
      category: form.category,
      price: { currencyCode: "USD", amountMinor },
      stock: Number(form.stock) | 0,
      // The main picture is the first; the others (set through the API) stay after it.
      images: [
        ...(form.uri === "" && form.alt_text === "" ? [] : [{ uri: form.uri, altText: form.alt_text }]),
        ...(product?.images.slice(1) ?? []),
      ],
    };
    try {
      if (product === undefined) {
        await api.products.createProduct({ product: fields, requestId: crypto.randomUUID() });
        setForm(emptyProduct);
      } else {
        // Only what changed goes into the update mask.
        const changed = (Object.keys(form) as Array<keyof typeof form>)
          .filter((key) => form[key] !== shown(product, key));
        // Both picture fields are one field of the API: `images`.
        const paths = [
          ...new Set(changed.map((key) => key === "uri" || key === "alt_text" ? "images" : key)),
        ];
        if (paths.length === 0) return;
        await api.products.updateProduct({ product: { ...fields, id: product.id }, updateMask: { paths } });
      }
      props.onSaved();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  const label = product === undefined ? "New product" : `Edit ${product.name}`;
  const prefix = product === undefined ? "" : `${product.id}-`;
  return (
    <form onSubmit={submit} aria-label={label} class="product-form">
      {(Object.keys(emptyProduct) as Array<keyof typeof emptyProduct>).map((key) => (
        <Field
          key={key}
          name={`${prefix}${key}`}
          label={labels[key] ?? key[0]?.toUpperCase() + key.slice(1)}
          value={form[key]}
          problem={problem?.field === key ? { ...problem, field: `${prefix}${key}` } : problem}
          required={!optional.includes(key)}
          inputMode={key === "price" ? "decimal" : key === "stock" ? "numeric" : undefined}
          onInput={(value) => setForm({ ...form, [key]: value })}
        />
      ))}
      <FormProblem problem={problem} fields={Object.keys(emptyProduct)} />
      <button type="submit">{product === undefined ? "Create product" : "Save changes"}</button>
    </form>
  );
}

function Products(): JSX.Element {
  const [products, setProducts] = useState<Product[]>([]);
  const [editing, setEditing] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const load = () =>
    api.products.listProducts({ pageSize: 100 }).then(
      (r) => setProducts(r.products),
      (e) => setProblem(problemOf(e)),
    );
  useEffect(() => void load(), []);
  const remove = async (product: Product) => {
    try {
      await api.products.deleteProduct({ id: product.id });
      await load();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <Page title="Products">
      <h2>New product</h2>
      <ProductForm onSaved={() => void load()} />
      <h2>Catalog</h2>
      <FormProblem problem={problem} />
      <table>
        <caption>Every product</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">SKU</th>
            <th scope="col">Price</th>
            <th scope="col">Stock</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {products.map((product) => (
            <tr key={product.id}>
              <td>{product.name}</td>
              <td>{product.sku}</td>
              <td>{formatMoney(product.price)}</td>
              <td>{product.stock}</td>
              <td>
                <button type="button" onClick={() => setEditing(editing === product.id ? "" : product.id)}>
                  Edit<span class="visually-hidden">{product.name}</span>
                </button>
                <button type="button" onClick={() => void remove(product)}>
                  Delete<span class="visually-hidden">{product.name}</span>
                </button>
                {editing === product.id && (
                  <ProductForm
                    product={product}
                    onSaved={() => {
                      setEditing("");
                      void load();
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

const nextStatus: Partial<Record<OrderStatus, [OrderStatus, string]>> = {
  [OrderStatus.PAID]: [OrderStatus.SHIPPED, "Ship"],
  [OrderStatus.SHIPPED]: [OrderStatus.DELIVERED, "Mark delivered"],
};

function Orders(): JSX.Element {
  const [orders, setOrders] = useState<Order[]>([]);
  const [problem, setProblem] = useState<Problem>();
  const load = () =>
    api.orders.listOrders({ pageSize: 100 }).then(
      (r) => setOrders(r.orders),
      (e) => setProblem(problemOf(e)),
    );
  useEffect(() => void load(), []);
  const move = async (order: Order, status: OrderStatus) => {
    try {
      await api.orders.updateOrderStatus({ id: order.id, status });
      await load();
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <Page title="Orders">
      <FormProblem problem={problem} />
      <table>
        <caption>Every order, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Status</th>
            <th scope="col">Total</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {orders.map((order) => {
            const next = nextStatus[order.status];
            return (
              <tr key={order.id}>
                <td>
                  <a href={`#/orders/${order.id}`}>{order.id.slice(0, 8)}</a>
                </td>
                <td>{statusName(order.status)}</td>
                <td>{formatMoney(order.total)}</td>
                <td>
                  {next !== undefined && (
                    <button type="button" onClick={() => void move(order, next[0])}>
                      {next[1]}
                      <span class="visually-hidden">order {order.id.slice(0, 8)}</span>
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Page>
  );
}

function RefundForm(props: { payment: Payment; onDone: (payment: Payment) => void }): JSX.Element {
  const { payment } = props;
  const [amount, setAmount] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const left = (payment.amount?.amountMinor ?? 0n) - (payment.refundedAmount?.amountMinor ?? 0n);
  const currencyCode = payment.amount?.currencyCode ?? "USD";
  const submit = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    const amountMinor = amount.trim() === "" ? undefined : parseMinor(amount);
    if (amount.trim() !== "" && amountMinor === undefined) {
      return setProblem({ field: "amount", message: "Enter an amount such as 5.00" });
    }
    try {
      const response = await api.payments.refundPayment({
        id: payment.id,
        requestId: crypto.randomUUID(),
        ...(amountMinor === undefined ? {} : { amount: { currencyCode, amountMinor } }),
      });
      if (response.payment !== undefined) props.onDone(response.payment);
      setAmount("");
    } catch (error) {
      setProblem(problemOf(error));
    }
  };
  return (
    <form onSubmit={submit} aria-label="Refund">
      <p>
        Paid {formatMoney(payment.amount)}; refunded {formatMoney(payment.refundedAmount)}; left to refund
        {" "}
        <strong>{formatMoney({ currencyCode, amountMinor: left })}</strong>
      </p>
      <Field
        name="amount"
        label="Refund amount (empty: all that is left)"
        inputMode="decimal"
        value={amount}
        onInput={setAmount}
        problem={problem}
      />
      <FormProblem problem={problem} fields={["amount"]} />
      <button type="submit" disabled={left <= 0n}>Refund</button>
    </form>
  );
}

function OrderPage(props: { id: string }): JSX.Element {
  const [order, setOrder] = useState<Order>();
  const [payments, setPayments] = useState<Payment[]>([]);
  const [problem, setProblem] = useState<Problem>();
  useEffect(() => {
    api.orders.getOrder({ id: props.id }).then((r) => setOrder(r.order), (e) => setProblem(problemOf(e)));
    api.payments.listPayments({ orderId: props.id }).then(
      (r) => setPayments(r.payments),
      (e) => setProblem(problemOf(e)),
    );
  }, [props.id]);
  return (
    <Page title={`Order ${props.id.slice(0, 8)}`}>
      <FormProblem problem={problem} />
      {order !== undefined && (
        <>
          <p role="status">
            Status: <strong>{statusName(order.status)}</strong> · Total {formatMoney(order.total)}
          </p>
          <ul aria-label="Items">
            {order.items.map((item) => <li key={item.productId}>{item.quantity} × {item.name}</li>)}
          </ul>
        </>
      )}
      {payments.map((payment) => (
        <RefundForm
          key={payment.id}
          payment={payment}
          onDone={(p) => setPayments(payments.map((x) => x.id === p.id ? p : x))}
        />
      ))}
    </Page>
  );
}

function Users(): JSX.Element {
  const [users, setUsers] = useState<User[]>([]);
  const [problem, setProblem] = useState<Problem>();
  useEffect(
    () =>
      void api.users.listUsers({ pageSize: 100 }).then(
        (r) => setUsers(r.users),
        (e) => setProblem(problemOf(e)),
      ),
    [],
  );
  return (
    <Page title="Users">
      <FormProblem problem={problem} />
      <table>
        <caption>Every account</caption>
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <tr key={user.id}>
              <td>{user.email}</td>
              <td>{user.displayName}</td>
              <td>{user.role === Role.ADMIN ? "admin" : "customer"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

function Console(): JSX.Element {
  const [page = "", id = ""] = useRoute();
  const signedIn = useSession();
  const [role, setRole] = useState<Role>();
  useEffect(() => {
    setRole(undefined);
    if (signedIn) {
      void api.users.getCurrentUser({}).then(
        (r) => setRole(r.user?.role ?? Role.UNSPECIFIED),
        () => setRole(Role.UNSPECIFIED),
      );
    }
  }, [signedIn]);
  const body = !signedIn
    ? (
      <Page title="Admin sign in">
        <SignInForm onDone={() => undefined} />
      </Page>
    )
    : role === undefined
    ? <p>Loading…</p>
    : role !== Role.ADMIN
    ? (
      <Page title="Not allowed">
        <p>
          This console is for administrators. <a href="/">Back to the shop</a>.
        </p>
      </Page>
    )
    : page === "orders" && id !== ""
    ? <OrderPage id={id} />
    : page === "orders"
    ? <Orders />
    : page === "users"
    ? <Users />
    : <Products />;
  return (
    <>
      <header>
        <nav aria-label="Admin">
          <span class="brand">shop admin</span>
          {role === Role.ADMIN && (
            <>
              <a href="#/products">Products</a>
              <a href="#/orders">Orders</a>
              <a href="#/users">Users</a>
            </>
          )}
          <a href="/">Storefront</a>
          {signedIn && <button type="button" onClick={() => void signOut()}>Sign out</button>}
        </nav>
      </header>
      <main id="main">{body}</main>
    </>
  );
}

const root = document.getElementById("app");
if (root !== null) void refresh().finally(() => render(<Console />, root));
