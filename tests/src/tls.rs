//! HTTPS and WSS with a bureau's own certificate authority: certificates made here with rcgen,
//! the real server, the kiosk's worker with a pty printer, the display's network worker, a
//! renewed certificate taking effect without a restart, and bad TLS settings refused by name.

use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use qcall_client::{BackoffSettings, Client, ClientOptions, FollowSettings};
use qcall_display::controller::{Controller, Input, Settings};
use qcall_display::net::{LinkSettings, NetWorker};
use qcall_kiosk::controller::{Event, Screen};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::kiosk::{east_config, pty_lock, Condition, SimPrinter, LIMIT};
use crate::printers::kiosk_prints_a_ticket;
use crate::util::{bin, Server};

/// A CA and a server certificate it issued for 127.0.0.1 and localhost, as PEM files.
pub(crate) struct Pki {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

pub(crate) fn make_pki(dir: &Path, name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.distinguished_name.push(DnType::CommonName, format!("{name} 税务局 CA"));
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "qcall");
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let pki = Pki {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn client(url: &str, ca: Option<&Path>) -> Client {
    Client::new(url, &ClientOptions { ca_file: ca.map(Path::to_path_buf), ..ClientOptions::default() }).unwrap()
}

/// The healthz answer, or why the connection failed.
fn health(url: &str, ca: Option<&Path>) -> Result<String, String> {
    block(client(url, ca).healthz()).map(|h| h.status).map_err(|e| e.to_string())
}

#[test]
fn https_and_wss_end_to_end_with_a_bureau_ca_and_a_renewed_certificate() {
    let _pty = pty_lock();
    let dir = tempfile::tempdir().unwrap();
    let first = make_pki(dir.path(), "east");
    let server = Server::start_tls(&first.cert, &first.key, &first.ca);
    assert!(server.url.starts_with("https://"));

    // Trusting the bureau's CA: the API answers. Without it, the certificate is refused.
    assert_eq!(health(&server.url, Some(&first.ca)).as_deref(), Ok("ok"));
    let refused = health(&server.url, None).unwrap_err();
    assert!(refused.contains("UnknownIssuer") || refused.contains("certificate"), "{refused}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(!got.starts_with(b"HTTP/"), "plain HTTP answered: {:?}", String::from_utf8_lossy(&got));
    }

    // The hall display follows the hall over wss:// with the bureau's CA.
    let (tx, rx) = mpsc::channel();
    let backoff = BackoffSettings { initial: Duration::from_millis(100), max: Duration::from_millis(800), jitter: 0.2 };
    let link = LinkSettings {
        server: server.url.clone(),
        hall: "east".into(),
        client: ClientOptions { ca_file: Some(first.ca.clone()), ..ClientOptions::default() },
        follow: FollowSettings { backoff, keepalive: Duration::from_secs(15) },
        since: None,
        device: None,
    };
    let _display = NetWorker::spawn(link, move |i| {
        let _ = tx.send(i);
    });
    let mut screen = Controller::new(Settings {
        hall: "east".into(),
        recent_rows: 8,
        highlight: Duration::from_secs(8),
        stale_after: Duration::from_secs(30),
        publicity: vec![],
    });

    // The kiosk issues and prints over https:// with the same CA.
    let sim = SimPrinter::start(Condition::Ready);
    let mut cfg = east_config(&server.url, &sim.path);
    cfg.link.ca_file = Some(first.ca.clone());
    let mut kiosk = kiosk_prints_a_ticket(&cfg, &sim);
    let number = kiosk.controller.last_ticket().unwrap().number.clone();

    // A clerk calls it: the display sees the call come in over the stream.
    let clerk = {
        let c = server.client();
        let req = qcall_wire::SessionRequest { clerk: "clerk01".into(), pin: "1234".into(), counter: "E01".into(), take_over: true };
        let s = block(c.sign_in(&req)).unwrap();
        c.with_token(&s.token)
    };
    let called = block(clerk.call_next("E01")).unwrap();
    assert_eq!(called.ticket.as_ref().map(|t| t.number.clone()), Some(number.clone()));
    let deadline = Instant::now() + LIMIT;
    while screen.state().latest.as_ref().map(|c| c.ticket.clone()) != Some(number.clone()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let input: Input = rx.recv_timeout(left).unwrap_or_else(|_| panic!("the display never saw {number} called"));
        screen.handle(input, chrono::Utc::now());
    }

    // The bureau renews the certificate (another CA, even): the next connection gets it,
    // without a restart.
    let second = make_pki(dir.path(), "renewed");
    let tmp = dir.path().join("swap.pem");
    std::fs::copy(&second.key, &tmp).unwrap();
    std::fs::rename(&tmp, &first.key).unwrap();
    std::fs::copy(&second.cert, &tmp).unwrap();
    std::fs::rename(&tmp, &first.cert).unwrap();
    assert_eq!(health(&server.url, Some(&second.ca)).as_deref(), Ok("ok"), "{}", server.log());
    assert!(health(&server.url, Some(&first.ca)).is_err(), "the old certificate is still served");
    assert!(server.log().contains("TLS certificate reloaded"), "{}", server.log());

    // The kiosk, told of the new CA, carries on.
    kiosk.dispatch(Event::Dismiss);
    drop(kiosk);
    cfg.link.ca_file = Some(second.ca.clone());
    sim.clear_received();
    let kiosk = kiosk_prints_a_ticket(&cfg, &sim);
    assert_eq!(kiosk.controller.screen(), Screen::Ticket);
}

#[test]
fn bad_tls_settings_are_refused_naming_the_field_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = make_pki(dir.path(), "a");
    let b = make_pki(dir.path(), "b");
    let check = |server_lines: &str| {
        let text = crate::util::always_open_config_text().replacen("[server]\n", &format!("[server]\n{server_lines}\n"), 1);
        let path = dir.path().join("qcall.toml");
        std::fs::write(&path, text).unwrap();
        let out = Proc::new(bin("qcall")).arg("check-config").arg("--config").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "accepted: {server_lines}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let p = |p: &Path| p.display().to_string();

    let e = check(&format!("tls_cert = {:?}", p(&a.cert)));
    assert!(e.contains("field `server.tls_key`") && e.contains("name its private key"), "{e}");
    let e = check(&format!("tls_cert = {:?}\ntls_key = {:?}", p(&dir.path().join("nope.pem")), p(&a.key)));
    assert!(e.contains("field `server.tls_cert`") && e.contains("nope.pem: cannot read"), "{e}");
    let e = check(&format!("tls_cert = {:?}\ntls_key = {:?}", p(&a.key), p(&a.key)));
    assert!(e.contains("field `server.tls_cert`") && e.contains("holds no certificate"), "{e}");
    let e = check(&format!("tls_cert = {:?}\ntls_key = {:?}", p(&a.cert), p(&a.cert)));
    assert!(e.contains("field `server.tls_key`") && e.contains("no private key"), "{e}");
    let e = check(&format!("tls_cert = {:?}\ntls_key = {:?}", p(&a.cert), p(&b.key)));
    assert!(e.contains("field `server.tls_key`") && e.contains("is not the key of the certificate in"), "{e}");
}
