// Peer for the hub's fan-out benchmark: socket.io with the Redis adapter.
// PORT, REDIS_URL (redis://… or unix://path) and BENCH_REDIS_CHANNEL come from the environment.
// Subscribers join room "feed" and get "hello"; a client with ?role=pub emits "publish" events,
// which go to the room on every server sharing the Redis.
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const ROOM = "feed";

function redisOptions(url) {
  return url.startsWith("unix://") ? { socket: { path: url.slice("unix://".length) } } : { url };
}

async function main() {
  const pub = createClient(redisOptions(process.env.REDIS_URL));
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  const io = new Server(server, {
    transports: ["websocket"],
    perMessageDeflate: false,
    maxHttpBufferSize: 65536,
    adapter: createAdapter(pub, sub, { key: process.env.BENCH_REDIS_CHANNEL || "socket.io" }),
  });
  io.on("connection", (socket) => {
    if (socket.handshake.query.role !== "pub") socket.join(ROOM);
    socket.emit("hello", {});
    socket.on("publish", (data) => io.to(ROOM).emit("event", data));
  });
  server.listen(Number(process.env.PORT), "127.0.0.1");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
