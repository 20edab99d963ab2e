//! Real servers from npm and PyPI that a test runs as a child process: `node tests/servers/<x>.js`
//! (installed by `scripts/test-setup` with `npm ci`) or `python tests/servers/<x>.py` (the `.venv`
//! of `scripts/test-setup`, found through `VOLLEY_TEST_PYTHON`). Each listens on a free loopback
//! port and prints `listening on PORT` once it accepts connections; dropping the handle kills and
//! reaps exactly that child (also when the test fails). The compression servers also answer
//! `GET /stats` with what they saw, read here by [`ChildServer::stats`].

use crate::support::repo;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process started by this test; dropped means killed and reaped.
pub struct ChildServer {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl ChildServer {
    /// `node tests/servers/<script> 0 <args…>`, once it listens.
    pub fn node(script: &str, args: &[&str]) -> ChildServer {
        let servers = repo().join("tests/servers");
        assert!(
            servers.join("node_modules").is_dir(),
            "tests/servers/node_modules is missing; run scripts/test-setup (or `cd tests/servers && npm ci`)"
        );
        let mut command = Command::new("node");
        command.arg(servers.join(script)).arg("0").args(args);
        ChildServer::start(command, script, "install Node.js; scripts/test-setup")
    }

    /// `$VOLLEY_TEST_PYTHON tests/servers/<script> 0 <args…>` (default: the repository's
    /// `.venv/bin/python`), once it listens.
    pub fn python(script: &str, args: &[&str]) -> ChildServer {
        let python = std::env::var("VOLLEY_TEST_PYTHON").map_or_else(
            |_| repo().join(".venv/bin/python"),
            std::path::PathBuf::from,
        );
        let mut command = Command::new(&python);
        command
            .arg(repo().join("tests/servers").join(script))
            .arg("0")
            .args(args);
        ChildServer::start(
            command,
            script,
            "run scripts/test-setup, which makes .venv/ with the PyPI servers",
        )
    }

    /// Start `command` in `tests/servers/` and wait for its `listening on PORT` line.
    fn start(mut command: Command, name: &str, fix: &str) -> ChildServer {
        let mut child = match command
            .current_dir(repo().join("tests/servers"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => panic!("cannot start {name} ({fix}): {error}"),
        };
        // The first line, or end of file if the server dies: read_line never waits past either.
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|stdout| BufReader::new(stdout).read_line(&mut line));
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|port| port.parse::<u16>().ok());
        match (read, port) {
            (Some(Ok(_)), Some(port)) => ChildServer { child, port },
            (read, _) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} did not print `listening on PORT` (got {line:?}, {read:?}); {fix}");
            }
        }
    }

    /// `ws://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// The server's own account of its connections: `GET /stats`, parsed.
    pub fn stats(&self) -> Value {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let answer = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5))
            .and_then(|mut stream| {
                stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                stream.write_all(
                    b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                )?;
                let mut text = String::new();
                stream.read_to_string(&mut text)?;
                Ok(text)
            });
        let text = match answer {
            Ok(text) => text,
            Err(error) => panic!("GET /stats on port {} failed: {error}", self.port),
        };
        let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        match serde_json::from_str(body) {
            Ok(stats) => stats,
            Err(error) => panic!("GET /stats answered no JSON ({error}): {text:?}"),
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
