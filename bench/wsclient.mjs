// A lean WebSocket client (RFC 6455) for the load client: Node's own HTTP upgrade and a frame
// parser on the raw socket. `ws` runs every chunk through a Writable stream and validates it again;
// at 10,000 subscribers that made the client, not the server, the slower end of the measurement.
// With `deflate` it offers permessage-deflate (RFC 7692) exactly as Chrome does and inflates what
// the server compresses, so the server is measured as browsers make it work.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import { inflateRawSync } from "node:zlib";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const CHROME_OFFER = "permessage-deflate; client_max_window_bits";
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// Bytes read from every connection's socket (frame headers included): the bytes on the wire.
export const wire = { bytes: 0 };

// The negotiated permessage-deflate parameters, or null when the server declined the offer.
function negotiated(header) {
  if (!header) return null;
  const [name, ...params] = header.split(",")[0].split(";").map((part) => part.trim());
  if (name !== "permessage-deflate") throw new Error(`unexpected extension: ${header}`);
  const values = Object.fromEntries(params.map((p) => { const [k, v] = p.split("="); return [k.trim(), v?.trim()]; }));
  return { serverNoContextTakeover: "server_no_context_takeover" in values,
    windowBytes: 1 << Number(values.server_max_window_bits ?? 15), header };
}

export function connect(url, protocol, onText, { deflate = false } = {}) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const request = http.request(url.replace(/^ws/, "http"), {
      agent: false,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13", ...(protocol ? { "Sec-WebSocket-Protocol": protocol } : {}),
        ...(deflate ? { "Sec-WebSocket-Extensions": CHROME_OFFER } : {}) },
    });
    request.on("error", reject);
    request.on("response", (response) => reject(new Error(`no upgrade: HTTP ${response.statusCode}`)));
    request.on("upgrade", (response, socket, head) => {
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      if (response.headers["sec-websocket-accept"] !== accept) {
        socket.destroy();
        reject(new Error("bad Sec-WebSocket-Accept"));
        return;
      }
      let extension;
      try {
        extension = negotiated(response.headers["sec-websocket-extensions"]);
        if (extension && !deflate) throw new Error("an extension nobody offered");
      } catch (error) {
        socket.destroy();
        reject(error);
        return;
      }
      socket.setNoDelay(true);
      const connection = new Connection(socket, onText, extension);
      if (head.length) connection.receive(head);
      resolve(connection);
    });
    request.end();
  });
}

class Connection {
  constructor(socket, onText, extension) {
    this.socket = socket;
    this.onText = onText;
    this.extension = extension; // null: no permessage-deflate
    this.window = null; // the inflater's context between messages: the last output, up to the window size
    this.pending = null; // bytes of a frame not yet whole
    this.parts = null; // payloads of a fragmented message
    this.compressed = false; // the message being received has RSV1 set
    this.closed = new Promise((resolve) => socket.on("close", resolve));
    socket.on("data", (chunk) => this.receive(chunk));
    socket.on("error", () => {}); // followed by "close"
  }

  receive(chunk) {
    wire.bytes += chunk.length;
    let buffer = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buffer.length - at < 2) break;
      const first = buffer[at];
      if (buffer[at + 1] & 0x80) throw new Error("a server frame must not be masked");
      let size = buffer[at + 1] & 0x7f;
      let start = at + 2;
      if (size === 126) {
        if (buffer.length - at < 4) break;
        size = buffer.readUInt16BE(at + 2);
        start = at + 4;
      } else if (size === 127) {
        if (buffer.length - at < 10) break;
        size = Number(buffer.readBigUInt64BE(at + 2));
        start = at + 10;
      }
      if (buffer.length < start + size) break;
      this.frame(first & 0x80, first & 0x40, first & 0x0f, buffer.subarray(start, start + size));
      at = start + size;
    }
    this.pending = at < buffer.length ? Buffer.from(buffer.subarray(at)) : null;
  }

  frame(final, rsv1, opcode, payload) {
    if (opcode === 0x9) return this.write(0xa, payload); // ping: pong
    if (opcode === 0x8 || opcode === 0xa) return; // close, pong
    if (rsv1 && !this.extension) throw new Error("RSV1 set without permessage-deflate");
    if (opcode !== 0x0) this.compressed = Boolean(rsv1); // RSV1 marks a message on its first frame
    if (!final || opcode === 0x0) {
      this.parts = [...(this.parts ?? []), payload];
      if (!final) return;
      payload = Buffer.concat(this.parts);
      this.parts = null;
    }
    if (this.compressed) payload = this.inflate(payload);
    this.onText(payload.toString("utf8"), this);
  }

  inflate(payload) {
    const { serverNoContextTakeover, windowBytes } = this.extension;
    const input = Buffer.concat([payload, TAIL]);
    const options = { finishFlush: 2 }; // Z_SYNC_FLUSH: a message ends on a flush, not a final block
    if (this.window && !serverNoContextTakeover) options.dictionary = this.window;
    const output = inflateRawSync(input, options);
    if (!serverNoContextTakeover) {
      const kept = this.window ? Buffer.concat([this.window, output]) : output;
      this.window = kept.length > windowBytes ? Buffer.from(kept.subarray(kept.length - windowBytes)) : kept;
    }
    return output;
  }

  send(text) {
    this.write(0x1, Buffer.from(text, "utf8"));
  }

  write(opcode, payload) {
    const size = payload.length;
    const header = size < 126 ? 2 : size < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + 4 + size);
    frame[0] = 0x80 | opcode;
    if (size < 126) frame[1] = 0x80 | size;
    else if (size < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(size, 2); }
    else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(size), 2); }
    const mask = randomBytes(4);
    mask.copy(frame, header);
    for (let i = 0; i < size; i++) frame[header + 4 + i] = payload[i] ^ mask[i & 3];
    this.socket.write(frame);
  }

  terminate() {
    this.socket.destroy();
  }
}
