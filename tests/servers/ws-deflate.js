// A real permessage-deflate (RFC 7692) echo server on Node's `ws` package, for Volley's compression
// end-to-end tests (tests/e2e/compression.rs). Listens on 127.0.0.1 at the port given as the first
// argument (0: a free port) and prints `listening on PORT` on stdout once it accepts connections.
// Echoes text as text and binary as binary; with deflate negotiated every message it sends is
// compressed (threshold 0). `GET /stats` answers, as JSON, what each connection offered and
// negotiated, how many messages and payload bytes it carried, its wire bytes (TCP, upgrade
// included) and the close code the client sent.
//
// Options after the port:
//   --no-deflate                     accept no extension at all (perMessageDeflate: false)
//   --server-no-context-takeover     answer server_no_context_takeover
//   --client-no-context-takeover     answer client_no_context_takeover
//   --server-max-window-bits N       answer server_max_window_bits=N
//   --client-max-window-bits N       answer client_max_window_bits=N (the client must offer it)
//   --bomb BYTES                     on connect, send one binary message of BYTES zero bytes
//                                    (compressed: a deflate bomb, ~1/1000 of it on the wire)
// Run: `node tests/servers/ws-deflate.js 9001 --server-no-context-takeover`.
"use strict";
const http = require("http");
const { WebSocketServer } = require("ws");

function parse(args) {
  const options = { port: Number(args[0] || 0), deflate: {}, enabled: true, bomb: 0 };
  for (let i = 1; i < args.length; i++) {
    const number = () => {
      const value = Number(args[++i]);
      if (!Number.isInteger(value)) throw new Error(`${args[i - 1]} needs a whole number`);
      return value;
    };
    switch (args[i]) {
      case "--no-deflate": options.enabled = false; break;
      case "--server-no-context-takeover": options.deflate.serverNoContextTakeover = true; break;
      case "--client-no-context-takeover": options.deflate.clientNoContextTakeover = true; break;
      case "--server-max-window-bits": options.deflate.serverMaxWindowBits = number(); break;
      case "--client-max-window-bits": options.deflate.clientMaxWindowBits = number(); break;
      case "--bomb": options.bomb = number(); break;
      default: throw new Error(`unknown option ${args[i]}`);
    }
  }
  return options;
}

const options = parse(process.argv.slice(2));
const connections = [];

const httpServer = http.createServer((req, res) => {
  if (req.url === "/stats") {
    // Wire bytes of connections still open are read now; closed ones kept their last figures.
    for (const entry of connections) {
      if (entry.socket) {
        entry.wire_bytes_read = entry.socket.bytesRead;
        entry.wire_bytes_written = entry.socket.bytesWritten;
      }
    }
    const body = JSON.stringify({ connections: connections.map(({ socket, ...rest }) => rest) });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404);
    res.end();
  }
});

const wss = new WebSocketServer({
  server: httpServer,
  perMessageDeflate: options.enabled ? { threshold: 0, ...options.deflate } : false,
});

// What the server answered, read from the 101 response it is about to write.
wss.on("headers", (headers, req) => {
  const line = headers.find((header) => header.toLowerCase().startsWith("sec-websocket-extensions:"));
  req.negotiated = line ? line.slice(line.indexOf(":") + 1).trim() : "none";
});

wss.on("connection", (ws, req) => {
  const entry = {
    offer: req.headers["sec-websocket-extensions"] || null,
    negotiated: req.negotiated || "none",
    messages: 0,
    payload_bytes_received: 0,
    wire_bytes_read: 0,
    wire_bytes_written: 0,
    close_code: null,
    socket: req.socket,
  };
  connections.push(entry);
  ws.on("message", (data, isBinary) => {
    entry.messages += 1;
    entry.payload_bytes_received += data.length;
    ws.send(data, { binary: isBinary });
  });
  ws.on("close", (code) => {
    entry.close_code = code;
    entry.wire_bytes_read = req.socket.bytesRead;
    entry.wire_bytes_written = req.socket.bytesWritten;
    entry.socket = null;
  });
  ws.on("error", () => {});
  if (options.bomb > 0) ws.send(Buffer.alloc(options.bomb), { binary: true, compress: true });
});

httpServer.listen(options.port, "127.0.0.1", () => {
  console.log(`listening on ${httpServer.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
