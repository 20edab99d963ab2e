//! STUB until the deflate module lands.

use crate::websocket::error::ProtocolError;

/// Inflating side.
pub struct Inflation;

impl Inflation {
    /// Feed.
    pub fn feed(&mut self, _: &[u8], _: &mut Vec<u8>, _: usize) -> Result<(), ProtocolError> {
        Err(ProtocolError::InvalidCompressed)
    }
    /// Finish.
    pub fn finish(&mut self, _: &mut Vec<u8>, _: usize) -> Result<(), ProtocolError> {
        Err(ProtocolError::InvalidCompressed)
    }
}

/// Deflating side.
pub struct Deflation;

impl Deflation {
    /// Compress.
    pub fn compress(&mut self, _: &[u8], _: &mut Vec<u8>) -> bool {
        false
    }
}
