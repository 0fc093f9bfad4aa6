import { MemoryProductStore } from "./memory_product_store.ts";
import { productStoreContract } from "./product_store_contract.ts";

productStoreContract(
  "MemoryProductStore",
  () => Promise.resolve({ store: new MemoryProductStore(), cleanup: async () => {} }),
);
