import { MemorySentEmailStore } from "./memory_sent_email_store.ts";
import { sentEmailStoreContract } from "./sent_email_store_contract.ts";

sentEmailStoreContract(
  "MemorySentEmailStore",
  () => Promise.resolve({ store: new MemorySentEmailStore(), cleanup: () => Promise.resolve() }),
);
