/**
 * A raw HTTP/2 client over one TCP connection that writes frames as it is told, ignoring the
 * server's SETTINGS: what an attacker's client does (RFC 9113 §4, §6). Tests use it to open more
 * streams than allowed, send headers larger than allowed, and reset streams rapidly.
 */
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Frame types and flags used here (RFC 9113 §6). */
export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;

/** A frame the server sent. */
export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), no Huffman; lengths < 127 or 2-byte. */
function literal(name: string, value: string): Buffer {
  const length = (n: number) => (n < 127 ? Buffer.from([n]) : Buffer.from([127, ...varint(n - 127)]));
  return Buffer.concat([Buffer.from([0x00]), length(name.length), Buffer.from(name), length(value.length), Buffer.from(value)]);
}

function varint(n: number): number[] {
  const bytes: number[] = [];
  while (n >= 128) {
    bytes.push((n % 128) + 128);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return bytes;
}

/** A header block: POST {path} over http, plus `extra` headers. */
export function requestHeaders(path: string, extra: Record<string, string> = {}): Buffer {
  // Static table (RFC 7541 Appendix A): 3 = :method POST, 6 = :scheme http.
  const fields = [Buffer.from([0x83, 0x86]), literal(":path", path), literal(":authority", "127.0.0.1")];
  fields.push(literal("content-type", "application/x-www-form-urlencoded"));
  for (const [name, value] of Object.entries(extra)) fields.push(literal(name, value));
  return Buffer.concat(fields);
}

/** A raw HTTP/2 connection; `frames` collects what the server sent. */
export class RawH2Connection {
  readonly frames: ReceivedFrame[] = [];
  #buffered = Buffer.alloc(0);
  #nextStreamId = 1;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  /** Connects to 127.0.0.1 from `localAddress`, sends the preface and an empty SETTINGS frame. */
  static open(port: number, localAddress = "127.0.0.1"): Promise<RawH2Connection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1", localAddress }, () => {
        socket.off("error", reject);
        socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, Buffer.alloc(0))]));
        resolve(new RawH2Connection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Opens a stream with `block` as its header block; `endStream` false leaves the request body to come. Returns its id. */
  headers(block: Buffer, endStream = false): number {
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    this.socket.write(frame(FRAME.HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), id, block));
    return id;
  }

  /** Resets a stream with CANCEL (0x8). */
  reset(streamId: number): void {
    const code = Buffer.alloc(4);
    code.writeUInt32BE(0x8);
    this.socket.write(frame(FRAME.RST_STREAM, 0, streamId, code));
  }

  /** The error codes of the RST_STREAM frames received, by stream. */
  resets(): Map<number, number> {
    return new Map(this.frames.filter((f) => f.type === FRAME.RST_STREAM).map((f) => [f.streamId, f.payload.readUInt32BE(0)]));
  }

  /** The error code of the GOAWAY received, if any. */
  goAwayCode(): number | undefined {
    return this.frames.find((f) => f.type === FRAME.GOAWAY)?.payload.readUInt32BE(4);
  }

  /** The streams the server answered with a HEADERS frame. */
  answered(): number[] {
    return this.frames.filter((f) => f.type === FRAME.HEADERS).map((f) => f.streamId);
  }

  close(): void {
    this.socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    while (this.#buffered.length >= 9) {
      const length = this.#buffered.readUIntBE(0, 3);
      if (this.#buffered.length < 9 + length) return;
      const received = {
        type: this.#buffered[3],
        flags: this.#buffered[4],
        streamId: this.#buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffered.subarray(9, 9 + length),
      };
      this.#buffered = this.#buffered.subarray(9 + length);
      this.frames.push(received);
      if (received.type === FRAME.SETTINGS && !(received.flags & ACK)) this.socket.write(frame(FRAME.SETTINGS, ACK, 0, Buffer.alloc(0)));
    }
  }
}
