import { MemoryPaymentStore } from "./memory_payment_store.ts";
import { paymentStoreContract } from "./payment_store_contract.ts";

paymentStoreContract(
  "MemoryPaymentStore",
  () => Promise.resolve({ store: new MemoryPaymentStore(), cleanup: async () => {} }),
);
