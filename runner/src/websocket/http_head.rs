//! Reading one HTTP head (request or response) off a stream during the upgrade: bytes up to and
//! including the blank line, at most [`MAX_HEAD`], and whatever arrived after it (the first
//! frames, when the peer wrote them at once). Parsing the head is the handshakes' concern.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why no head could be read.
#[derive(Debug)]
pub enum HeadError {
    /// The stream failed.
    Io(std::io::Error),
    /// The peer closed before the head was complete.
    Closed,
    /// The head is larger than [`MAX_HEAD`].
    TooLarge,
}

/// Read a head: `(head, rest)`.
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Vec<u8>, Vec<u8>), HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await.map_err(HeadError::Io)?;
        if read == 0 {
            return Err(HeadError::Closed);
        }
        let searched_from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find_head_end(&buffer[searched_from..]) {
            let rest = buffer.split_off(searched_from + end);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Where the head ends (after its blank line), if it is complete.
pub fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_blank_line() {
        assert_eq!(find_head_end(b"HTTP/1.1 101 OK\r\n\r\n\x81\x00"), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 101 OK\r\n"), None);
    }

    #[tokio::test]
    async fn bytes_after_the_head_are_kept() {
        let mut input: &[u8] = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n\x81\x02hi";
        match read_head(&mut input).await {
            Ok((head, rest)) => {
                assert!(head.ends_with(b"\r\n\r\n"));
                assert_eq!(rest, b"\x81\x02hi");
            }
            Err(error) => panic!("{error:?}"),
        }
        let mut cut: &[u8] = b"HTTP/1.1 101 OK\r\n";
        assert!(matches!(read_head(&mut cut).await, Err(HeadError::Closed)));
    }
}
