//! An async reflector: sends every frame a port receives back where it
//! came from (source and destination MACs swapped), on a tokio runtime,
//! in batches (`netmap_ring::async_port`, docs/async.md).
//!
//! ```text
//! cargo run --release -p netmap-tools --example async_reflector -- vale0:r [COUNT]
//! target/release/pkt-gen -i vale0:p -f ping        # another process
//! ```
//! or over a pipe (the reflector on one end, ping on the other):
//! ```text
//! cargo run --release -p netmap-tools --example async_reflector -- vale0:q{1 [COUNT]
//! target/release/pkt-gen -i 'vale0:q}1' -f ping
//! ```
//! The backend is `NETMAP_BACKEND`'s (default `soft`). It stops after COUNT
//! frames (default: never) and prints how many it reflected.

use netmap_ring::async_port::{AsyncPort, FrameBatch};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().ok_or("usage: async_reflector PORT [COUNT]")?;
    let count: u64 = args
        .next()
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(u64::MAX);
    let backend = netmap_backend::backend_from_env()?;
    let port = netmap_ring::port::Port::open_on(&*backend, &name)?;
    let mut port = AsyncPort::new(port)?;
    println!("async_reflector: {name}: ready");
    let mut batch = FrameBatch::with_capacity(256);
    // One buffer for the swapped frames of a batch, reused.
    let mut swapped: Vec<u8> = Vec::with_capacity(256 * 2048);
    let mut ends: Vec<usize> = Vec::with_capacity(256);
    let mut reflected = 0u64;
    while reflected < count {
        port.recv_batch(&mut batch, 256).await?;
        swapped.clear();
        ends.clear();
        for frame in batch.iter() {
            let start = swapped.len();
            swapped.extend_from_slice(frame);
            if frame.len() >= 12 {
                let f = &mut swapped[start..];
                for i in 0..6 {
                    f.swap(i, 6 + i);
                }
            }
            ends.push(swapped.len());
        }
        let frames = ends.iter().scan(0, |start, &end| {
            let frame = &swapped[*start..end];
            *start = end;
            Some(frame)
        });
        reflected += port.send_batch(frames).await? as u64;
    }
    println!("async_reflector: {name}: reflected {reflected} frames");
    Ok(())
}
