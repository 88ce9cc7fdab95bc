import { createServer } from "node:net";

/**
 * A 127.0.0.1 port that was free a moment ago: bound on port 0 and released. Use it for a server
 * that must be told its port, or as a port nothing listens on.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
