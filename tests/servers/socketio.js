// A real Socket.IO v4 server (the npm `socket.io` package) for Volley's end-to-end tests and the
// `scenarios/socketio` example. Listens on 127.0.0.1 at the port given as the first argument
// (default 0: a free port) and prints `listening on PORT` on stdout once it accepts connections.
// Namespace `/`: event `echo` acknowledges with its arguments unchanged; on connect it emits
// `welcome` with the socket id. Run: `node tests/servers/socketio.js 3000`.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ["websocket"], pingInterval: 2000, pingTimeout: 5000 });

io.on("connection", (socket) => {
  socket.emit("welcome", { id: socket.id });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening on ${httpServer.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
