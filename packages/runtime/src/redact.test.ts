import { describe, expect, it } from "vitest";
import { redactSecrets } from "./redact.js";

describe("redactSecrets on URLs", () => {
  it.each([
    ["postgres://u:S3cretPW@db:5432/market", "postgres://u:***@db:5432/market"],
    ["mysql://u:S3cretPW@h/db", "mysql://u:***@h/db"],
    ["redis://:S3cretPW@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"],
    ["rediss://default:S3cretPW@cache.example:6380", "rediss://default:***@cache.example:6380"],
    ["nats://u:S3cretPW@127.0.0.1:4222", "nats://u:***@127.0.0.1:4222"],
    ["nats://S3cretPW@127.0.0.1:4222", "nats://***@127.0.0.1:4222"],
    ["nats://u:S3cretPW@[::1]:4222", "nats://u:***@[::1]:4222"],
    ["u:S3cretPW@127.0.0.1:4222", "u:***@127.0.0.1:4222"],
    ["postgres://u:S3c/ret@PW@h/db", "postgres://u:***@h/db"],
    [
      "postgres://h/db?user=u&password=S3cretPW&sslmode=require",
      "postgres://h/db?user=u&password=***&sslmode=require",
    ],
    ["wss://h/ws?token=S3cretPW", "wss://h/ws?token=***"],
    ["https://h/info?api_key=S3cretPW", "https://h/info?api_key=***"],
  ])("%s → %s", (url, redacted) => {
    expect(redactSecrets(url)).toBe(redacted);
  });

  it("redacts every server of a comma-separated NATS list", () => {
    expect(redactSecrets("nats://a:S3cretPW@h1:4222, b:0therPW@h2:4222,nats://h3:4222")).toBe(
      "nats://a:***@h1:4222, b:***@h2:4222,nats://h3:4222",
    );
  });

  it("keeps URLs without credentials and a user without a password", () => {
    for (const url of [
      "nats://127.0.0.1:4222",
      "postgres://root@127.0.0.1:5432/db",
      "sqlite:./data/market-scraper.db",
      "https://api.hyperliquid.xyz/info?type=meta",
      "127.0.0.1:4222",
    ])
      expect(redactSecrets(url)).toBe(url);
  });
});

describe("redactSecrets", () => {
  it("redacts URLs inside free text and JSON, leaving the rest", () => {
    expect(redactSecrets('DATABASE_URL: expected postgres://…, got "mysql://u:S3cretPW@h/db"')).toBe(
      'DATABASE_URL: expected postgres://…, got "mysql://u:***@h/db"',
    );
    expect(
      redactSecrets(
        '{"msg":"cannot connect to NATS (nats://u:S3cretPW@h:4222,nats://v:P2@h2:4222): refused"}',
      ),
    ).toBe('{"msg":"cannot connect to NATS (nats://u:***@h:4222,nats://v:***@h2:4222): refused"}');
    expect(redactSecrets("mail ops@example.com at 12:00")).toBe("mail ops@example.com at 12:00");
  });
});
