import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite-store.js";
import { storeContract } from "./store-contract.js";

storeContract("SQLite in memory", async () => {
  const store = new SqliteStore({ path: ":memory:" });
  return { store, cleanup: () => store.close() };
});

storeContract("SQLite file (WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "storage-sqlite-"));
  const path = join(dir, "data", "events.db");
  const store = new SqliteStore({ path });
  return {
    store,
    another: () => new SqliteStore({ path }),
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
