"""A real permessage-deflate (RFC 7692) echo server on PyPI's `websockets`, for Volley's compression
end-to-end tests (tests/e2e/compression.rs).

`websockets` compresses by default (its defaults: server_max_window_bits=12,
client_max_window_bits=12 when the client offers it, memLevel 5). Listens on 127.0.0.1 at the port
given as the first argument (0: a free port) and prints `listening on PORT` on stdout once it
accepts connections. Echoes text as text and binary as binary (messages up to 64 MiB).
`GET /stats` answers, as JSON, what each connection offered and negotiated and how many messages
and payload bytes it carried.

Options after the port:
  --no-compression           accept no extension at all
  --server-max-window-bits N the largest server window it accepts, and answers when not offered
  --no-context-takeover      answer server_no_context_takeover and client_no_context_takeover

Needs the `.venv` of scripts/test-setup (`websockets==17.4`).
Run: `.venv/bin/python tests/servers/websockets_echo.py 9002 --no-context-takeover`.
"""

import argparse
import asyncio
import json
import signal
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

CONNECTIONS = []


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, nargs="?", default=0)
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--server-max-window-bits", type=int, choices=range(9, 16))
    parser.add_argument("--no-context-takeover", action="store_true")
    return parser.parse_args()


def extensions(args):
    """The permessage-deflate factory the options ask for, or None for the library's default."""
    if args.no_compression:
        return []
    if args.server_max_window_bits is None and not args.no_context_takeover:
        return None
    return [
        ServerPerMessageDeflateFactory(
            server_max_window_bits=args.server_max_window_bits or 12,
            client_max_window_bits=12,
            server_no_context_takeover=args.no_context_takeover,
            client_no_context_takeover=args.no_context_takeover,
            compress_settings={"memLevel": 5},
        )
    ]


def stats(connection, request):
    """Answer `GET /stats` with the connections seen so far; let every other request upgrade."""
    if request.path != "/stats":
        return None
    response = connection.respond(HTTPStatus.OK, json.dumps({"connections": CONNECTIONS}))
    response.headers["Content-Type"] = "application/json"
    return response


async def echo(connection):
    entry = {
        "offer": connection.request.headers.get("Sec-WebSocket-Extensions"),
        "negotiated": connection.response.headers.get("Sec-WebSocket-Extensions", "none"),
        "messages": 0,
        "payload_bytes_received": 0,
        "close_code": None,
    }
    CONNECTIONS.append(entry)
    try:
        async for message in connection:
            entry["messages"] += 1
            entry["payload_bytes_received"] += len(message)
            await connection.send(message)
    except ConnectionClosed:
        pass
    finally:
        if connection.protocol.close_rcvd is not None:
            entry["close_code"] = connection.protocol.close_rcvd.code


async def main():
    args = parse()
    options = {"compression": None} if args.no_compression else {}
    chosen = extensions(args)
    if chosen:
        options = {"compression": None, "extensions": chosen}
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(
        echo, "127.0.0.1", args.port, process_request=stats, max_size=64 << 20, **options
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
