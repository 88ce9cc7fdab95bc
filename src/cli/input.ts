import { readFile } from "node:fs/promises";

/** Standard input to its end, as text (a pipe, a file or a socket alike, unlike reading /dev/stdin). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The text of a file the user named, `-` meaning standard input. */
export const readInput = (path: string): Promise<string> => (path === "-" ? readStdin() : readFile(path, "utf8"));
