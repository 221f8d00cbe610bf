// A lean WebSocket client (RFC 6455) for the load client: Node's own HTTP upgrade and a frame
// parser on the raw socket. `ws` runs every chunk through a Writable stream and validates it again;
// at 10,000 subscribers that made the client, not the server, the slower end of the measurement.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function connect(url, protocol, onText) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const request = http.request(url.replace(/^ws/, "http"), {
      agent: false,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": protocol },
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
      socket.setNoDelay(true);
      const connection = new Connection(socket, onText);
      if (head.length) connection.receive(head);
      resolve(connection);
    });
    request.end();
  });
}

class Connection {
  constructor(socket, onText) {
    this.socket = socket;
    this.onText = onText;
    this.pending = null; // bytes of a frame not yet whole
    this.parts = null; // payloads of a fragmented message
    this.closed = new Promise((resolve) => socket.on("close", resolve));
    socket.on("data", (chunk) => this.receive(chunk));
    socket.on("error", () => {}); // followed by "close"
  }

  receive(chunk) {
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
      this.frame(first & 0x80, first & 0x0f, buffer.subarray(start, start + size));
      at = start + size;
    }
    this.pending = at < buffer.length ? Buffer.from(buffer.subarray(at)) : null;
  }

  frame(final, opcode, payload) {
    if (opcode === 0x9) return this.write(0xa, payload); // ping: pong
    if (opcode === 0x8 || opcode === 0xa) return; // close, pong
    if (!final || opcode === 0x0) {
      this.parts = [...(this.parts ?? []), payload];
      if (!final) return;
      payload = Buffer.concat(this.parts);
      this.parts = null;
    }
    this.onText(payload.toString("utf8"), this);
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
