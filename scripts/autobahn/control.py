"""The two control calls `just autobahn` makes to the fuzzing server, outside any test case.

`getCaseCount` (one text message: how many cases the server will run) and `updateReports?agent=NAME`
(the server writes its reports, then closes). They need a WebSocket client that reads one text
message and answers a Close, nothing more: this is that client, on the standard library only, so
the suite's own orchestration does not depend on the client under test. Not a general client: no
fragmented messages, no extensions, unmasked server frames only (as RFC 6455 requires of servers).
The cases themselves go through `volley run` (scripts/autobahn/run).
"""

import base64
import os
import socket
import struct

OPCODE_TEXT = 0x1
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA


class ControlError(Exception):
    """The server answered a control call with something this client does not expect."""


def client_frame(opcode, payload, mask):
    """A final client frame (RFC 6455 5.2) of `opcode` carrying `payload`, masked with `mask`
    (4 bytes)."""
    header = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 1 << 16:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return header + mask + masked


def parse_frame(buffer):
    """One whole server frame at the start of `buffer`: `(fin, opcode, payload, used)`, or None
    when `buffer` does not hold a whole frame yet. A masked server frame is a ControlError."""
    if len(buffer) < 2:
        return None
    fin = bool(buffer[0] & 0x80)
    opcode = buffer[0] & 0x0F
    if buffer[1] & 0x80:
        raise ControlError("the server sent a masked frame")
    length = buffer[1] & 0x7F
    start = 2
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,) = struct.unpack("!H", buffer[2:4])
        start = 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        (length,) = struct.unpack("!Q", buffer[2:10])
        start = 10
    if len(buffer) < start + length:
        return None
    return fin, opcode, bytes(buffer[start : start + length]), start + length


def upgrade_request(host, port, path, key):
    """The HTTP/1.1 upgrade request for `path` on `host:port` with `Sec-WebSocket-Key` `key`."""
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode("ascii")


def texts_until_close(host, port, path, timeout):
    """Connect to ws://host:port/path, collect the text messages the server sends until it
    closes, answer its Close, and return the texts."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(upgrade_request(host, port, path, key))
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            if not chunk:
                raise ControlError(f"{path}: the server closed during the upgrade")
            buffer += chunk
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in f"{status} ":
            raise ControlError(f"{path}: upgrade refused: {status}")
        buffer = bytearray(rest)
        texts = []
        while True:
            frame = parse_frame(buffer)
            if frame is None:
                chunk = sock.recv(65536)
                if not chunk:
                    return texts
                buffer += chunk
                continue
            fin, opcode, payload, used = frame
            del buffer[:used]
            if opcode == OPCODE_TEXT:
                if not fin:
                    raise ControlError(f"{path}: a fragmented message")
                texts.append(payload.decode("utf-8"))
            elif opcode == OPCODE_PING:
                sock.sendall(client_frame(OPCODE_PONG, payload, os.urandom(4)))
            elif opcode == OPCODE_CLOSE:
                sock.sendall(client_frame(OPCODE_CLOSE, payload[:2], os.urandom(4)))
                return texts


def case_count(port, timeout=30.0):
    """`getCaseCount`: how many cases the server on 127.0.0.1:`port` runs."""
    texts = texts_until_close("127.0.0.1", port, "/getCaseCount", timeout)
    if len(texts) != 1 or not texts[0].strip().isdigit():
        raise ControlError(f"getCaseCount answered {texts!r}, not one number")
    return int(texts[0])


def update_reports(port, agent, timeout=600.0):
    """`updateReports?agent=AGENT`: the server writes its reports (it closes when done)."""
    texts_until_close("127.0.0.1", port, f"/updateReports?agent={agent}", timeout)
