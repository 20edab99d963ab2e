//! The WebSocket protocol (RFC 6455) and permessage-deflate (RFC 7692): pure codec parts and the async socket.

pub mod deflate;
