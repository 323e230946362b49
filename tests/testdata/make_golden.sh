#!/usr/bin/env bash
# Regenerates golden_expected.jsonl from golden_input.jsonl, and
# oracle_expected.jsonl (serde's verdict on lines at the edges: nesting, lone
# surrogates, numbers, fields given twice) from oracle_input.jsonl, with the
# reference's own serde types (shared/reference/audit.rs), so the golden bytes
# and verdicts come from Rust, not from this module. Needs cargo and Debian's
# librust-serde-json-dev + librust-serde-derive-dev (offline registry). Not run by CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ref=${REFERENCE:-$here/../../../shared/reference/audit.rs}
work=$(mktemp -d)
mkdir -p "$work/src" "$work/.cargo"
cat > "$work/.cargo/config.toml" <<'TOML'
[source.crates-io]
replace-with = "debian"
[source.debian]
directory = "/usr/share/cargo/registry"
[net]
offline = true
TOML
cat > "$work/Cargo.toml" <<'TOML'
[package]
name = "golden"
version = "0.1.0"
edition = "2021"
[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
TOML
{
  echo 'use serde::{Deserialize, Serialize};'
  echo 'use std::io::BufRead;'
  # The wire types only: from SCHEMA_VERSION up to the backpressure enum.
  sed -n '/^pub const SCHEMA_VERSION/,/^pub enum BackpressureStrategy/p' "$ref" | sed '$d' | sed '$d'
  cat <<'RS'
fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        match serde_json::from_str::<CallEvent>(&line) {
            Ok(ev) => println!("{}", serde_json::to_string(&ev).unwrap()),
            Err(e) => println!("ERROR {}", e),
        }
    }
}
RS
} > "$work/src/main.rs"
(cd "$work" && cargo build -q)
node "$here/golden_inputs.mjs"
"$work/target/debug/golden" < "$here/golden_input.jsonl" > "$here/golden_expected.jsonl"
node "$here/oracle_inputs.mjs"
"$work/target/debug/golden" < "$here/oracle_input.jsonl" > "$here/oracle_expected.jsonl"
rm -rf "$work"
echo "wrote $(wc -l < "$here/golden_expected.jsonl") golden and $(wc -l < "$here/oracle_expected.jsonl") oracle lines"
