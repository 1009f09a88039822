//! A TCP proxy on loopback that can be cut: while cut it forwards nothing (bytes sent into it
//! vanish, new connections are accepted and go nowhere), as a WAN link that died; healed, it
//! closes what it held (as the peers' TCP would give up on it) and forwards again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Blackhole {
    /// `http://127.0.0.1:PORT`: give it instead of the target's URL.
    pub url: String,
    cut: Arc<AtomicBool>,
    /// Raised at every heal: connections held by the cut close.
    heals: tokio::sync::watch::Sender<u64>,
}

impl Blackhole {
    /// Forwards to `target` (`http://127.0.0.1:PORT`).
    pub async fn start(target: &str) -> Blackhole {
        let to: SocketAddr = target.trim_start_matches("http://").trim_end_matches('/').parse().expect("a loopback address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let (heals, _) = tokio::sync::watch::channel(0u64);
        let (c, h) = (cut.clone(), heals.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(carry(inbound, to, c.clone(), h.subscribe()));
            }
        });
        Blackhole { url, cut, heals }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.heals.send_modify(|n| *n += 1);
    }
}

/// One connection: forwarded while the link is up; held, then closed at the heal, when cut.
async fn carry(inbound: TcpStream, to: SocketAddr, cut: Arc<AtomicBool>, mut heals: tokio::sync::watch::Receiver<u64>) {
    let held = async |heals: &mut tokio::sync::watch::Receiver<u64>| {
        let _ = heals.changed().await;
    };
    if cut.load(Ordering::SeqCst) {
        held(&mut heals).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(to).await else { return };
    let (mut ri, mut wi) = inbound.into_split();
    let (mut ro, mut wo) = outbound.into_split();
    let pipe = async |r: &mut tokio::net::tcp::OwnedReadHalf, w: &mut tokio::net::tcp::OwnedWriteHalf, cut: &AtomicBool| {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if cut.load(Ordering::SeqCst) {
                // Into the hole: nothing more gets through on this connection.
                std::future::pending::<()>().await;
            }
            if w.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = pipe(&mut ri, &mut wo, &cut) => {}
        _ = pipe(&mut ro, &mut wi, &cut) => {}
        _ = held(&mut heals) => {}
    }
    // Give the other direction's last bytes a moment before both close.
    tokio::time::sleep(Duration::from_millis(1)).await;
}
