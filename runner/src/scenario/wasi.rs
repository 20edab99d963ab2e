//! WASI for scenario instances: wasmtime-wasi's preview 2 with nothing granted (no files, no
//! network, no environment), linked only because Rust's std imports it. Its blocking stream and
//! poll functions would block on the async runtime from a runtime thread (a panic in wasmtime-wasi),
//! so they are replaced here: writes to stdout/stderr go straight into bounded in-memory pipes and
//! never fail or wait — what does not fit is dropped (stderr keeps the first panic message for the
//! report) — and waiting on (or asking after) a pollable, reading stdin, splicing and opening a
//! socket are traps with advice: a scenario must never block, it sets a timer, and the runner owns
//! the network. Stream drops are not replaced (a resource destructor cannot be shadowed here): a
//! guest that drops a stream still reaches wasmtime-wasi, whose panic is caught per call.

use crate::scenario::host::ConnState;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::io::streams::StreamError;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, OutputStream};

/// The WASI version wasmtime-wasi 48 provides (guests built against older 0.2.x match it).
const IO_VERSION: &str = "0.2.12";

const NO_BLOCKING: &str = "scenarios cannot block (thread::sleep, blocking reads or polls); set a timer with ctx.set_timer instead";

const NO_SOCKETS: &str = "scenarios cannot open sockets (std::net, WASI sockets); the runner owns the connection: send with ctx.send_text / ctx.send_binary";

const NO_STDIN: &str = "scenarios have no standard input; read configuration with ctx.var";

/// What `check-write` grants: writes never wait.
const WRITE_PERMIT: u64 = 64 * 1024;

type WriteResult = wasmtime::Result<(Result<(), StreamError>,)>;

/// Link WASI p2 (sync) with the non-blocking replacements.
pub fn add_to_linker(linker: &mut Linker<ConnState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    {
        let mut streams = linker.instance(&format!("wasi:io/streams@{IO_VERSION}"))?;
        for name in [
            "[method]output-stream.write",
            "[method]output-stream.blocking-write-and-flush",
        ] {
            streams.func_wrap(name, write_and_report)?;
        }
        streams.func_wrap(
            "[method]output-stream.check-write",
            |_store: StoreContextMut<'_, ConnState>,
             (_stream,): (Resource<DynOutputStream>,)|
             -> wasmtime::Result<(Result<u64, StreamError>,)> {
                // Always ready: what does not fit in the bounded pipe is dropped by `write_now`.
                Ok((Ok(WRITE_PERMIT),))
            },
        )?;
        // Writes land at once, so flushing has nothing to wait for.
        for name in [
            "[method]output-stream.flush",
            "[method]output-stream.blocking-flush",
        ] {
            streams.func_wrap(
                name,
                |_store: StoreContextMut<'_, ConnState>,
                 (_stream,): (Resource<DynOutputStream>,)|
                 -> WriteResult { Ok((Ok(()),)) },
            )?;
        }
        streams.func_wrap(
            "[method]output-stream.blocking-write-zeroes-and-flush",
            |mut store: StoreContextMut<'_, ConnState>,
             (stream, length): (Resource<DynOutputStream>, u64)|
             -> WriteResult {
                let zeroes = vec![0u8; usize::try_from(length.min(4096)).unwrap_or(4096)];
                write_now(store.data_mut(), &stream, &zeroes)?;
                Ok((Ok(()),))
            },
        )?;
    }
    {
        // wasmtime-wasi's sync bindings run these through `block_on`, which panics on a runtime
        // worker: each becomes a scenario trap with advice instead.
        let mut streams = linker.instance(&format!("wasi:io/streams@{IO_VERSION}"))?;
        for name in [
            "[method]input-stream.read",
            "[method]input-stream.blocking-read",
        ] {
            streams.func_wrap(
                name,
                |_store: StoreContextMut<'_, ConnState>,
                 (_stream, _len): (Resource<DynInputStream>, u64)|
                 -> wasmtime::Result<(Result<Vec<u8>, StreamError>,)> {
                    Err(wasmtime::Error::msg(NO_STDIN))
                },
            )?;
        }
        for name in [
            "[method]input-stream.skip",
            "[method]input-stream.blocking-skip",
        ] {
            streams.func_wrap(
                name,
                |_store: StoreContextMut<'_, ConnState>,
                 (_stream, _len): (Resource<DynInputStream>, u64)|
                 -> wasmtime::Result<(Result<u64, StreamError>,)> {
                    Err(wasmtime::Error::msg(NO_STDIN))
                },
            )?;
        }
        for name in [
            "[method]output-stream.splice",
            "[method]output-stream.blocking-splice",
        ] {
            streams.func_wrap(
                name,
                |_store: StoreContextMut<'_, ConnState>,
                 (_dst, _src, _len): (Resource<DynOutputStream>, Resource<DynInputStream>, u64)|
                 -> wasmtime::Result<(Result<u64, StreamError>,)> {
                    Err(wasmtime::Error::msg(NO_BLOCKING))
                },
            )?;
        }
        for (interface, function) in [
            ("udp-create-socket", "create-udp-socket"),
            ("tcp-create-socket", "create-tcp-socket"),
        ] {
            let mut sockets = linker.instance(&format!("wasi:sockets/{interface}@{IO_VERSION}"))?;
            sockets.func_new(function, |_store, _type, _params, _results| {
                Err(wasmtime::Error::msg(NO_SOCKETS))
            })?;
        }
    }
    {
        let mut poll = linker.instance(&format!("wasi:io/poll@{IO_VERSION}"))?;
        poll.func_wrap(
            "[method]pollable.ready",
            |_store: StoreContextMut<'_, ConnState>,
             (_pollable,): (Resource<DynPollable>,)|
             -> wasmtime::Result<(bool,)> { Err(wasmtime::Error::msg(NO_BLOCKING)) },
        )?;
        poll.func_wrap(
            "[method]pollable.block",
            |_store: StoreContextMut<'_, ConnState>,
             (_pollable,): (Resource<DynPollable>,)|
             -> wasmtime::Result<()> { Err(wasmtime::Error::msg(NO_BLOCKING)) },
        )?;
        poll.func_wrap(
            "poll",
            |_store: StoreContextMut<'_, ConnState>,
             (_pollables,): (Vec<Resource<DynPollable>>,)|
             -> wasmtime::Result<(Vec<u32>,)> {
                Err(wasmtime::Error::msg(NO_BLOCKING))
            },
        )?;
    }
    linker.allow_shadowing(false);
    Ok(())
}

/// `write` and `blocking-write-and-flush`: never fail, never wait.
fn write_and_report(
    mut store: StoreContextMut<'_, ConnState>,
    (stream, bytes): (Resource<DynOutputStream>, Vec<u8>),
) -> WriteResult {
    write_now(store.data_mut(), &stream, &bytes)?;
    Ok((Ok(()),))
}

/// Write what fits into an in-memory output stream at once; the rest is dropped (the pipes are
/// bounded so a chatty scenario cannot grow the runner's memory).
fn write_now(
    state: &mut ConnState,
    stream: &Resource<DynOutputStream>,
    bytes: &[u8],
) -> wasmtime::Result<()> {
    let stream: &mut DynOutputStream = state.table().get_mut(stream)?;
    let room = stream.check_write().unwrap_or(0);
    let take = room.min(bytes.len());
    if take > 0 {
        let _ = stream.write(bytes::Bytes::copy_from_slice(&bytes[..take]));
    }
    let _ = OutputStream::flush(stream.as_mut());
    Ok(())
}
