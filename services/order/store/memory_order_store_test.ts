import { MemoryOrderStore } from "./memory_order_store.ts";
import { orderStoreContract } from "./order_store_contract.ts";

orderStoreContract(
  "MemoryOrderStore",
  () => Promise.resolve({ store: new MemoryOrderStore(), cleanup: async () => {} }),
);
