//! MQTT 3.1.1 and 5.0 over WebSocket (subprotocol `mqtt`): the client layer [`Mqtt`]
//! (`client.rs`), the packets as data with their encoding ([`Packet`], `packet.rs`), the wire
//! format's byte-level pieces and the reassembly of packets split across or packed into
//! WebSocket messages ([`codec`]), and topic filter matching ([`topic_matches`], `topic.rs`).
//! Scenarios use [`Mqtt`]; the rest is public so a test or a broker double can speak MQTT too.

mod client;
pub mod codec;
mod packet;
mod topic;

pub use client::{
    CONNECT_REQUEST, Event, KEEPALIVE_TIMER, Mqtt, PACKET_CHECK, PING_CHECK, PUBLISH_QOS1_REQUEST,
    PUBLISH_QOS2_REQUEST, Received, SUBSCRIBE_REQUEST, TimedOut, UNSUBSCRIBE_REQUEST, request_key,
};
pub use packet::{
    Ack, ConnAck, Connect, Disconnect, Packet, Properties, Publish, QoS, SubAck, Subscribe,
    Subscription, Unsubscribe, Version, Will, reason_name,
};
pub use topic::{topic_matches, valid_filter};
