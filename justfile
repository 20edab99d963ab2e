# Volley tasks. CI (.ci/run) calls `just lint` and `just test`; the README's set-up is
# `just run scenarios/echo.yaml` and `just test`.

host := `rustc -vV | sed -n 's/^host: //p'`

# List recipes.
default:
    @just --list

# Build the example scenarios (and test fixtures) to wasm32-wasip2 (adding that target if missing).
scenarios:
    @rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
    cd scenarios && cargo build --release --quiet

# Run a scenario file: `just run scenarios/echo.yaml --target ws://…`. The example modules are built
# first, unless the file is a flow (no `module:`), which needs no build.
run FILE *ARGS:
    @if grep -qE '^ *module:' {{FILE}}; then {{just_executable()}} scenarios; fi
    cargo run --release --quiet -p volley -- run {{FILE}} {{ARGS}}

# Validate a scenario file and its module (or flow) without connecting.
check FILE *ARGS:
    @if grep -qE '^ *module:' {{FILE}}; then {{just_executable()}} scenarios; fi
    cargo run --release --quiet -p volley -- check {{FILE}} {{ARGS}}

# Create a scenario crate in folder NAME (depends on this checkout's sdk/ by path):
# `just new orders-feed`, then `cd orders-feed && cargo build --release && volley run orders-feed.yaml`.
new NAME *ARGS:
    cargo run --release --quiet -p volley -- new {{NAME}} {{ARGS}}

# Run the embedded server standalone: `just serve --mode chat --addr 127.0.0.1:9002`.
serve *ARGS:
    cargo run --release --quiet -p volley -- serve {{ARGS}}

# Install or find what the tests need beyond Rust (wasm target, .venv with prometheus-client,
# chromium); says the one command to run when it cannot.
setup:
    scripts/test-setup

# Built with the `release` profile, as `just run`: after `just run`, only the test-only crates and
# the test binaries are compiled (Cargo.toml, "Feature unification"); `just bench` and `just dist`
# use the link-time-optimised profiles.
# Unit tests, SDK doc tests, scenario logic natively, end-to-end tests against real servers.
test: setup scenarios
    cd scenarios && cargo test --quiet --target {{host}}
    VOLLEY_TEST_PYTHON="$PWD/.venv/bin/python" cargo test --release --workspace

# Formatting and clippy (-D warnings) in both workspaces.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    cd scenarios && cargo fmt --all --check
    cd scenarios && cargo clippy --workspace --all-targets --quiet -- -D warnings

# The file to download, copy onto a machine or into deploy/kubernetes/Dockerfile; see
# docs/install.md (size, build time). Not part of `just test` (slow). ring (rustls) compiles C:
# needs musl-gcc (Debian's musl-tools) and `rustup target add x86_64-unknown-linux-musl`.
# One static `volley` for Linux x86-64 (musl, fat LTO, stripped: the `dist` profile).
dist:
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build --profile dist --locked -p volley --target x86_64-unknown-linux-musl
    @ls -l target/x86_64-unknown-linux-musl/dist/volley | awk '{ printf "target/x86_64-unknown-linux-musl/dist/volley: %d bytes (%.1f MiB)\n", $5, $5 / 1048576 }'

# `file` and `ldd` (static?), then `volley check` and the echo example (3 s) run with that file.
# Check the `just dist` binary.
dist-check: scenarios
    file target/x86_64-unknown-linux-musl/dist/volley
    file target/x86_64-unknown-linux-musl/dist/volley | grep -q 'static'
    ldd target/x86_64-unknown-linux-musl/dist/volley 2>&1 | grep -Eq 'statically linked|not a dynamic executable'
    @echo "static: no shared library, no loader"
    target/x86_64-unknown-linux-musl/dist/volley --version
    target/x86_64-unknown-linux-musl/dist/volley check scenarios/echo.yaml
    target/x86_64-unknown-linux-musl/dist/volley run scenarios/echo.yaml --set load.duration=3s --no-progress

# Render a results file as HTML and screenshot it in headless Chromium, for a person to look at:
# `just screenshot results.json` writes target/report.html and target/report.png.
screenshot RESULTS:
    cargo run --release --quiet -p volley -- report {{RESULTS}} -o target/report.html
    bash tests/browser/check_report.sh target/report.html target/report.png
    @echo "open target/report.png (or target/report.html in a browser)"

# See docs/conformance.md; not part of `just test`. About 30 s with `--compression off`, 15 min with
# deflate (the Python 2 server compresses slowly). `just autobahn 1-10`, `just autobahn 9.1.6`,
# `just autobahn '12.1.*' --compression off`; VOLLEY_BIN=PATH uses another build of the runner.
# The first run installs the fuzzing server (Python 2.7 from pyenv) into target/autobahn (~1 minute).
# Autobahn|Testsuite client cases (517; 12.*, 13.* deflate) through `volley run`: counts per group.
[positional-arguments]
autobahn *ARGS: scenarios
    if [ -z "${VOLLEY_BIN:-}" ]; then cargo build --release --quiet -p volley; fi
    python3 -B -m unittest discover -q -s scripts/autobahn
    scripts/autobahn/run "$@"

# See docs/benchmarks.md. The floor comparison takes about 6 minutes (VOLLEY_BENCH_RUNS=3 for medians).
# Criterion micro-benchmarks, Volley vs bare tokio-tungstenite and tokio-websockets clients (W1–W3)
# and vs a bare deflate client (W4), W1 as a flow, the fan-out against mosquitto (1 publisher,
# 2,000 subscribers, 30 s; skipped without mosquitto), hold_10k, hold_60k.
bench: scenarios
    cargo bench -p volley --bench scenario_calls
    cargo bench -p volley --bench floor
    cargo test --release -p volley --test e2e -- --ignored --nocapture --test-threads 1 hold_10k handshake_rate hold_60k

# Against `volley serve` and a bare tokio-tungstenite server with the default backlog (~2 minutes).
# W3 (5,000 connections at once) at net.max_handshakes_in_flight 16, 32, 64, 128, 256 and 1024.
bench-handshakes: scenarios
    cargo bench -p volley --bench floor -- handshakes

# About 9 minutes, against `volley serve`; target: within 10 MiB.
# Soak: 1,000,000 arrivals at 2,000/s; the runner's resident memory after 100,000 and 1,000,000.
soak: scenarios
    cargo bench -p volley --bench floor -- soak
