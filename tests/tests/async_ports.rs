//! The async port (`netmap_ring::async_port`, feature `tokio`): many ports
//! served by one single-threaded runtime, frames echoed over pipes and a
//! VALE switch in batches, with nothing blocking the thread.

use std::time::Duration;

use netmap_ring::async_port::{AsyncPort, FrameBatch};
use netmap_testkit::frames::{frame, mac, seq_of, BROADCAST};
use netmap_testkit::names::unique_switch;

/// Echoes what `port` receives until `count` frames went back.
async fn reflector(mut port: AsyncPort, count: usize) {
    let mut batch = FrameBatch::with_capacity(256);
    let mut echoed = 0;
    while echoed < count {
        port.recv_batch(&mut batch, 256).await.unwrap();
        echoed += port.send_batch(batch.iter()).await.unwrap();
    }
}

/// Sends `count` numbered frames through `port` and checks they all come
/// back in order.
async fn client(mut port: AsyncPort, count: u32, src: [u8; 6], dst: [u8; 6]) {
    let frames: Vec<Vec<u8>> = (0..count).map(|seq| frame(dst, src, seq, 60)).collect();
    let mut batch = FrameBatch::with_capacity(256);
    let mut next = 0u32;
    let mut sent = 0usize;
    while next < count {
        // Keep at most a ringful in flight.
        let window = (sent + 256).min(frames.len());
        if sent < window && sent < next as usize + 512 {
            sent += port
                .send_batch(frames[sent..window].iter().map(Vec::as_slice))
                .await
                .unwrap();
        }
        port.recv_batch(&mut batch, 256).await.unwrap();
        for got in batch.iter() {
            assert_eq!(seq_of(got), Some(next), "echo out of order");
            next += 1;
        }
    }
}

#[test]
fn one_thread_serves_many_pipes_and_a_switch() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sw = unique_switch("async");
        let mut tasks = Vec::new();
        const COUNT: u32 = 5000;
        for i in 0..16 {
            let master = vale_soft::open(&format!("{sw}:e{{{i}@conf:slots=512")).unwrap();
            let slave = vale_soft::open(&format!("{sw}:e}}{i}@conf:slots=512")).unwrap();
            tasks.push(tokio::spawn(reflector(
                AsyncPort::new(master).unwrap(),
                COUNT as usize,
            )));
            tasks.push(tokio::spawn(client(
                AsyncPort::new(slave).unwrap(),
                COUNT,
                mac(1),
                mac(2),
            )));
        }
        // A VALE pair: the client broadcasts, the reflector's echo (the
        // same frame) floods back to the client.
        let c = vale_soft::open(&format!("{sw}:c")).unwrap();
        let r = vale_soft::open(&format!("{sw}:r")).unwrap();
        tasks.push(tokio::spawn(reflector(
            AsyncPort::new(r).unwrap(),
            COUNT as usize,
        )));
        tasks.push(tokio::spawn(client(
            AsyncPort::new(c).unwrap(),
            COUNT,
            mac(20),
            BROADCAST,
        )));
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("an async port stalled")
                .unwrap();
        }
    });
}
