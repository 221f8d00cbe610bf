// The socket.io stack of Racewire's earlier Node version, as its seed document describes it, for
// bench/run.py --socketio: Express and socket.io 4 on one HTTP server, a room per race
// (`race:{raceId}`, joined by `subscribe_race`), @socket.io/redis-adapter on the local Redis
// under a key prefix of its own, and a store endpoint that broadcasts each stored update as
// `odds_update` to the race's room (the seed's odds-storage service did the same after its write).
//
// Settings (environment):
//   SOCKETIO_PORT           the port (127.0.0.1 only)
//   SOCKETIO_REDIS          redis://… for the redis-adapter as deployed, or "none": socket.io's in-memory adapter
//   SOCKETIO_REDIS_PREFIX   the adapter's key (default racewire-bench-socketio-<pid>), so runs never meet
//   SOCKETIO_DEFLATE        "off": socket.io 4's default (perMessageDeflate false, no extension is negotiated);
//                           "on": perMessageDeflate true (engine.io sets a threshold of 1,024 bytes, but
//                           ws applies it only with server_no_context_takeover, which browsers do not ask
//                           for: every frame is compressed, for each connection, its context kept);
//                           "all": threshold 0, the same for every offer
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import express from "express";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env.SOCKETIO_PORT ?? 22000);
const redisUrl = process.env.SOCKETIO_REDIS ?? "redis://127.0.0.1:6379";
const prefix = process.env.SOCKETIO_REDIS_PREFIX ?? `racewire-bench-socketio-${process.pid}`;
const deflate = process.env.SOCKETIO_DEFLATE ?? "off";
const perMessageDeflate = { off: false, on: true, all: { threshold: 0 } }[deflate];
if (perMessageDeflate === undefined) throw new Error(`SOCKETIO_DEFLATE: off, on or all, not ${deflate}`);

const app = express();
app.use(express.json({ limit: "64kb" }));
const httpServer = createServer(app);
const io = new Server(httpServer, { perMessageDeflate, cors: { origin: "http://127.0.0.1" } });

if (redisUrl !== "none") {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient, { key: prefix }));
}

io.on("connection", (socket) => {
  socket.on("subscribe_race", (raceId, ack) => {
    if (typeof raceId !== "string" && typeof raceId !== "number") return ack?.({ error: "raceId" });
    socket.join(`race:${raceId}`);
    ack?.({ ok: true });
  });
  socket.on("unsubscribe_race", (raceId) => socket.leave(`race:${raceId}`));
});

// The closest fraction with a denominator of at most 20, as Racewire's fallback does: "21/20".
function fractional(decimal) {
  const profit = decimal - 1;
  let best = [Math.round(profit), 1];
  for (let d = 2; d <= 20; d++) {
    const n = Math.round(profit * d);
    if (Math.abs(n / d - profit) < Math.abs(best[0] / best[1] - profit) - 1e-12) best = [n, d];
  }
  return `${best[0]}/${best[1]}`;
}

const seqs = new Map(); // raceId -> the last seq stored
app.post("/odds", (request, response) => {
  const { raceId, prices } = request.body ?? {};
  if (typeof raceId !== "string" || !Array.isArray(prices) || prices.length === 0 || prices.length > 100
      || !prices.every((p) => typeof p?.runnerId === "string" && Number.isFinite(p?.decimal) && p.decimal > 1)) {
    response.status(400).json({ error: "BAD_USER_INPUT" });
    return;
  }
  const seq = (seqs.get(raceId) ?? 0) + 1;
  seqs.set(raceId, seq);
  const update = { raceId, seq, prices: prices.map((p) => ({ runnerId: p.runnerId, decimal: p.decimal,
    fractional: fractional(p.decimal) })) };
  io.to(`race:${raceId}`).emit("odds_update", update);
  response.json({ seq });
});
app.get("/health", (request, response) => response.json({ connections: io.engine.clientsCount }));

httpServer.listen(port, "127.0.0.1");
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
