//! Announcements as sound: the WAV the `announce` command writes, and the player's queue.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use qcall_display::announce::{self, AnnounceOptions};
use qcall_display::player::{Announcer, Output, PlayerEvent};
use qcall_display::voice::{from_f32, read_wav};
use rodio::Source;

fn voice_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/voice")
}

fn clip(name: &str) -> Vec<i16> {
    let (format, samples) = read_wav(&voice_dir().join(format!("{name}.wav"))).unwrap();
    assert_eq!((format.sample_rate, format.channels), (22050, 1), "{name}");
    samples
}

fn silence(ms: usize) -> Vec<i16> {
    vec![0; 22050 * ms / 1000]
}

/// A012 at counter 3, Mandarin only, said twice, put together here from the files themselves.
fn expected_a012_at_3() -> Vec<i16> {
    let words = [
        "zh-CN/qing", "zh-CN/letter_a", "zh-CN/digit_0", "zh-CN/digit_1", "zh-CN/digit_2", "zh-CN/hao", "zh-CN/dao",
        "zh-CN/digit_3", "zh-CN/hao_chuangkou", "zh-CN/banli",
    ];
    let mut out = clip("chime");
    for _ in 0..2 {
        out.extend(silence(700));
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                out.extend(silence(60));
            }
            out.extend(clip(w));
        }
    }
    out
}

#[test]
fn announce_command_writes_the_concatenated_clips() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("display.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"http://127.0.0.1:9\"\nhall = \"east\"\n[announce]\nvoice_dir = {:?}\nenglish = false\nrepeat = 2\nword_gap_ms = 60\nsentence_gap_ms = 700\n",
            voice_dir().display().to_string()
        ),
    )
    .unwrap();
    let wav = dir.path().join("a012.wav");
    let out = Command::new(env!("CARGO_BIN_EXE_qcall-display"))
        .args(["--config", config.to_str().unwrap(), "announce", "--ticket", "A012", "--counter", "3", "--out"])
        .arg(&wav)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (format, written) = read_wav(&wav).unwrap();
    assert_eq!((format.sample_rate, format.channels), (22050, 1));
    let want = expected_a012_at_3();
    // chime + 2 × (700 ms + 10 words + 9 × 60 ms)
    let words: usize = ["zh-CN/qing", "zh-CN/letter_a", "zh-CN/digit_0", "zh-CN/digit_1", "zh-CN/digit_2", "zh-CN/hao",
        "zh-CN/dao", "zh-CN/digit_3", "zh-CN/hao_chuangkou", "zh-CN/banli"]
        .iter()
        .map(|w| clip(w).len())
        .sum();
    assert_eq!(want.len(), clip("chime").len() + 2 * (15435 + words + 9 * 1323));
    assert_eq!(written.len(), want.len(), "length in samples");
    let diff = written.iter().zip(&want).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "samples differ from the concatenated clips");
}

/// Pulls `n` samples from the offline sink's output.
fn pull(out: &mut impl Iterator<Item = f32>, n: usize) -> Vec<i16> {
    out.by_ref().take(n).map(from_f32).collect()
}

fn wait_for(rx: &mpsc::Receiver<PlayerEvent>, pred: impl Fn(&PlayerEvent) -> bool) -> PlayerEvent {
    loop {
        let e = rx.recv().expect("player thread alive");
        if pred(&e) {
            return e;
        }
    }
}

#[test]
fn two_quick_calls_play_whole_and_in_order() {
    let (sink, mut out) = rodio::Sink::new();
    let (tx, rx) = mpsc::channel();
    let opts = AnnounceOptions { english: true, repeat: 2, word_gap_ms: 60, sentence_gap_ms: 700 };
    let announcer = Announcer::new(&voice_dir(), opts.clone(), Output::Sink(sink), Some(tx)).unwrap();
    let first = announcer.bank.render(&announce::build("A012", 3, &opts).unwrap());
    let second = announcer.bank.render(&announce::build("B100", 12, &opts).unwrap());
    assert_eq!(out.channels(), 1);

    let id1 = announcer.announce("A012", 3).unwrap();
    wait_for(&rx, |e| *e == PlayerEvent::Queued { id: id1 });
    // The first announcement is being spoken when the second call arrives.
    let head = pull(&mut out, 1000);
    assert!(matches!(wait_for(&rx, |e| matches!(e, PlayerEvent::Started { .. })), PlayerEvent::Started { id, .. } if id == id1));
    let id2 = announcer.announce("B100", 12).unwrap();
    wait_for(&rx, |e| *e == PlayerEvent::Queued { id: id2 });

    let mut heard = head;
    heard.extend(pull(&mut out, first.len() + second.len() - 1000));
    assert!(heard[..first.len()] == first[..], "first announcement played whole");
    assert!(heard[first.len()..] == second[..], "second follows right after, whole");
    // Both finished, in order; afterwards the output is silent.
    let tail = pull(&mut out, 100);
    assert!(tail.iter().all(|s| *s == 0));
    let mut finished = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let PlayerEvent::Finished { id } = e {
            finished.push(id);
        }
    }
    assert_eq!(finished, [id1, id2]);
}
