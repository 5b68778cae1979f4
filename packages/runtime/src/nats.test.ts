import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { natsConnectionOptions } from "./nats.js";
import { RuntimeError } from "./runtime-error.js";

const workdir = mkdtempSync(join(tmpdir(), "runtime-nats-"));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

const servers = ["nats://a:4222", "nats://b:4222"];

describe("natsConnectionOptions", () => {
  it("reconnects forever, waits for the first connect and skips async traces", () => {
    expect(natsConnectionOptions({ NATS_URL: servers }, { name: "storage-service" })).toEqual({
      servers,
      name: "storage-service",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      reconnectJitter: 500,
      noAsyncTraces: true,
      waitOnFirstConnect: true,
    });
  });

  it("passes user and password", () => {
    const options = natsConnectionOptions(
      { NATS_URL: servers, NATS_USER: "u", NATS_PASSWORD: "p" },
      { name: "s" },
    );
    expect(options).toMatchObject({ user: "u", pass: "p" });
    expect(options).not.toHaveProperty("token");
  });

  it("puts every reply inbox under NATS_INBOX_PREFIX", () => {
    const options = natsConnectionOptions(
      { NATS_URL: servers, NATS_INBOX_PREFIX: "_INBOX_storage" },
      { name: "s" },
    );
    expect(options.inboxPrefix).toBe("_INBOX_storage");
  });

  it("passes a token", () => {
    expect(natsConnectionOptions({ NATS_URL: servers, NATS_TOKEN: "t" }, { name: "s" })).toMatchObject({
      token: "t",
    });
  });

  it("signs with the credentials file", () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const creds = join(workdir, "user.creds");
    writeFileSync(
      creds,
      `-----BEGIN NATS USER JWT-----\nfake.jwt.token\n------END NATS USER JWT------\n\n` +
        `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    );
    const { authenticator } = natsConnectionOptions({ NATS_URL: servers, NATS_CREDS: creds }, { name: "s" });
    expect(typeof authenticator).toBe("function");
    const auth = (authenticator as (nonce?: string) => unknown)("nonce-1");
    expect(auth).toMatchObject({ jwt: "fake.jwt.token", nkey: user.getPublicKey() });
  });

  it("fails with NATS_CREDS_UNREADABLE when the file is gone", () => {
    const call = () =>
      natsConnectionOptions({ NATS_URL: servers, NATS_CREDS: join(workdir, "gone.creds") }, { name: "s" });
    expect(call).toThrow(RuntimeError);
    expect(call).toThrow(expect.objectContaining({ code: "NATS_CREDS_UNREADABLE" }));
  });
});
