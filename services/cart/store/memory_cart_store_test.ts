import { MemoryCartStore } from "./memory_cart_store.ts";
import { cartStoreContract } from "./cart_store_contract.ts";

cartStoreContract(
  "memory",
  (options) => Promise.resolve({ store: new MemoryCartStore(options), cleanup: () => Promise.resolve() }),
);
