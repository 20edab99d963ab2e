// A real GraphQL-over-WebSocket server (`graphql-ws` on `ws`, schema from `graphql`) speaking the
// `graphql-transport-ws` protocol, for Volley's end-to-end tests and the `scenarios/graphql`
// example. Listens on 127.0.0.1 at the port given as the first argument (default 0: a free port),
// path `/graphql`, and prints `listening on PORT` on stdout once it accepts connections.
// Schema: `subscription { countdown(from: Int!): Int! }` yields from, from-1, …, 1 (10 ms apart),
// then completes. Run: `node tests/servers/graphql.js 4000`.
"use strict";
const { WebSocketServer } = require("ws");
const { useServer } = require("graphql-ws/lib/use/ws");
const { buildSchema } = require("graphql");

const schema = buildSchema(`
  type Query { hello: String }
  type Subscription { countdown(from: Int!): Int! }
`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const roots = {
  query: { hello: () => "world" },
  subscription: {
    countdown: async function* ({ from }) {
      for (let n = from; n > 0; n--) {
        await sleep(10);
        yield { countdown: n };
      }
    },
  },
};

const port = Number(process.argv[2] || 0);
const server = new WebSocketServer({ host: "127.0.0.1", port, path: "/graphql" }, () => {
  console.log(`listening on ${server.address().port}`);
});
useServer(
  {
    schema,
    roots,
  },
  server,
);
process.on("SIGTERM", () => process.exit(0));
