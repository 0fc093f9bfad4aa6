import { MemoryUserStore } from "./memory_user_store.ts";
import { userStoreContract } from "./user_store_contract.ts";

userStoreContract(
  "MemoryUserStore",
  () => Promise.resolve({ store: new MemoryUserStore(), cleanup: async () => {} }),
);
