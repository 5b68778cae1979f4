import { createServer } from "node:net";

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). Another process can still take
 * it before you bind it; the server harnesses retry with a new port when that happens.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a listening socket"));
      });
    });
  });
}
