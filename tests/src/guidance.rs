//! The kiosk for everyone: 长者模式 on screen, and the spoken guidance, rendered through rodio
//! into WAV files (no sound card) and checked for length and level.

use std::path::Path;
use std::process::Command as Proc;

use qcall_kiosk::config::Language;
use qcall_kiosk::controller::{Command, Event, Screen};
use qcall_kiosk::escpos::PrinterFault;
use qcall_kiosk::guide::Prompt;
use qcall_kiosk::printer;
use qcall_kiosk::voice::Voice;
use qcall_kiosk::worker::Headless;

use crate::kiosk::{east_config, pty_lock, ready, Condition, SimPrinter, LIMIT};
use crate::util::{bin, Server};

fn voice_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/voice"))
}

/// Peak and RMS of 16-bit samples, as fractions of full scale.
fn level(samples: &[i16]) -> (f64, f64) {
    let peak = samples.iter().map(|s| (*s as f64).abs()).fold(0.0, f64::max) / 32768.0;
    let rms = (samples.iter().map(|s| (*s as f64 / 32768.0).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (peak, rms)
}

#[test]
fn every_guidance_prompt_renders_through_rodio_to_a_wav_with_speech_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let voice = Voice::load(voice_dir()).unwrap();
    let cases: [(&str, &[&str], Prompt); 8] = [
        ("choose-service", &[], Prompt::ChooseService),
        ("take-ticket", &["--ahead", "3"], Prompt::TakeTicket { ahead: 3 }),
        ("take-ticket", &["--ahead", "0"], Prompt::TakeTicket { ahead: 0 }),
        ("take-ticket", &["--ahead", "27"], Prompt::TakeTicket { ahead: 27 }),
        ("not-printed", &["--number", "B027"], Prompt::NotPrinted { number: "B027".into() }),
        ("paper-end", &[], Prompt::Fault(PrinterFault::PaperEnd)),
        ("cover-open", &[], Prompt::Fault(PrinterFault::CoverOpen)),
        ("offline", &[], Prompt::Fault(PrinterFault::Offline)),
    ];
    for (name, args, prompt) in cases {
        for (lang, flag) in [(Language::Zh, None), (Language::En, Some("--english"))] {
            let out = dir.path().join(format!("{name}-{lang:?}.wav"));
            let run = Proc::new(bin("qcall-kiosk"))
                .args(["say", "--prompt", name, "--out", out.to_str().unwrap()])
                .args(args)
                .args(flag)
                .output()
                .unwrap();
            assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            let reader = hound::WavReader::open(&out).unwrap();
            let spec = reader.spec();
            assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (22050, 1, 16));
            let samples: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
            // Exactly the clips and pauses of the prompt, as rodio played them.
            assert_eq!(samples, voice.render(&prompt, lang), "{name} {lang:?}");
            let secs = samples.len() as f64 / 22050.0;
            let (peak, rms) = level(&samples);
            assert!((0.5..15.0).contains(&secs), "{name} {lang:?}: {secs:.2} s");
            assert!(peak > 0.3 && peak < 0.99, "{name} {lang:?}: peak {peak:.3} (too quiet or clipped)");
            assert!(rms > 0.03, "{name} {lang:?}: RMS {rms:.3}: no speech in it");
            println!("MEASURE guidance {name} {args:?} {lang:?}: {secs:.2} s, peak {peak:.2}, RMS {rms:.3}");
        }
    }
    // "您前面还有 3 人" says more than "请取走您的号票" alone, and a bigger number says more.
    let len = |p: Prompt| voice.render(&p, Language::Zh).len();
    assert!(len(Prompt::TakeTicket { ahead: 27 }) > len(Prompt::TakeTicket { ahead: 3 }));
    // The numbers are the hall display's own clips: one voice in the hall.
    let display = qcall_audio::Clips::load(voice_dir(), ["zh-CN/digit_3".to_string()]).unwrap();
    let three = display.get("zh-CN/digit_3");
    let ticket = voice.render(&Prompt::TakeTicket { ahead: 3 }, Language::Zh);
    assert!(ticket.windows(three.len()).any(|w| w == three), "the digit clip is in the sentence");
    // A voice folder missing a clip is refused, naming the file.
    let partial = dir.path().join("voice");
    std::fs::create_dir_all(partial.join("zh-CN")).unwrap();
    let err = Voice::load(&partial).err().unwrap().to_string();
    assert!(err.starts_with("voice clip ") && err.contains(".wav: No such file"), "{err}");
}

#[test]
fn a_kiosk_greets_a_visitor_tells_them_their_ticket_and_without_paper_says_their_number() {
    let _pty = pty_lock();
    let server = Server::start();
    let sim = SimPrinter::start(Condition::Ready);
    let cfg = east_config(&server.url, &sim.path);
    let mut h = Headless::start(cfg.clone(), printer::open(&cfg.printer).unwrap());
    assert!(h.pump_until(LIMIT, ready));
    let said = |h: &Headless| -> Vec<Prompt> {
        h.commands
            .iter()
            .filter_map(|c| match c {
                Command::Say { prompt, .. } => Some(prompt.clone()),
                _ => None,
            })
            .collect()
    };
    h.dispatch(Event::Touched);
    assert_eq!(said(&h), [Prompt::ChooseService]);
    h.tap("filing");
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket));
    let ahead = h.controller.last_ticket().unwrap().waiting_ahead;
    assert!(sim.wait_for_cut(LIMIT));
    // The ticket screen comes with the printer's answer, and so does the sentence.
    assert_eq!(said(&h)[1..], [Prompt::TakeTicket { ahead }]);

    h.dispatch(Event::Dismiss);
    sim.set(Condition::PaperEnd);
    h.tap("filing");
    // Out of paper, the ticket is issued all the same: on screen, and its number said aloud.
    assert!(h.pump_until(LIMIT, |c| c.screen() == Screen::Ticket && c.view().ticket.is_some_and(|t| !t.print_failed.is_empty())));
    let number = h.controller.last_ticket().unwrap().number.clone();
    assert_eq!(said(&h)[2..], [Prompt::NotPrinted { number }]);
    // What the speaker said, rendered: "已为您排队。号票未能打印，请记住您的号码" and the number.
    let voice = Voice::load(voice_dir()).unwrap();
    let samples = qcall_audio::player::render_offline(voice.format(), voice.render(&said(&h)[2], Language::Zh));
    let (peak, rms) = level(&samples);
    assert!(samples.len() > 22050 && peak > 0.3 && rms > 0.03, "{} samples, peak {peak}, rms {rms}", samples.len());
}

fn shot(server: &Server, orientation: &str, out: &Path) -> (u32, u32, Vec<u8>) {
    let run = Proc::new(bin("qcall-kiosk"))
        .args(["--server", &server.url, "--screenshot", out.to_str().unwrap(), orientation, "--screen", "elder"])
        .args(["--config", concat!(env!("CARGO_MANIFEST_DIR"), "/../config/kiosk-east.toml")])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(out).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Share of the pixels in a horizontal band that `pred` holds for.
fn share(img: &(u32, u32, Vec<u8>), y0: u32, y1: u32, pred: impl Fn(u8, u8, u8) -> bool) -> f64 {
    let (w, _, px) = img;
    let n = (y0..y1).flat_map(|y| (0..*w).map(move |x| ((y * w + x) * 4) as usize)).filter(|&i| pred(px[i], px[i + 1], px[i + 2])).count();
    n as f64 / ((y1 - y0) * w) as f64
}

#[test]
fn elder_mode_is_high_contrast_with_one_service_a_row_in_both_orientations() {
    let server = Server::start();
    // With QCALL_SCREENSHOTS=DIR (relative to the workspace root) the shots are kept there.
    let dir = std::env::var_os("QCALL_SCREENSHOTS").map(std::path::PathBuf::from).map(|d| {
        let d = if d.is_absolute() { d } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(d) };
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let tmp = tempfile::tempdir().unwrap();
    let black = |r: u8, g: u8, b: u8| r < 40 && g < 40 && b < 40;
    let yellow = |r: u8, g: u8, b: u8| r > 220 && g > 180 && b < 80;
    for (flag, name, (w, h)) in [("--landscape", "landscape", (1920, 1080)), ("--portrait", "portrait", (1080, 1920))] {
        let out = dir.as_deref().unwrap_or(tmp.path()).join(format!("kiosk-elder-{name}.png"));
        let img = shot(&server, flag, &out);
        assert_eq!((img.0, img.1), (w, h));
        // Nearly all of it is black or the near-black of the rows (against 4 % in the standard
        // mode's light page), with yellow: the row borders, letters and waits.
        let dark = share(&img, 0, h, black);
        let accent = share(&img, 0, h, yellow);
        assert!(dark > 0.6, "{name}: only {:.0} % dark", dark * 100.0);
        assert!(accent > 0.03, "{name}: only {:.1} % yellow", accent * 100.0);
        // One service a row: each of the four rows has a yellow letter disc at its left.
        let (px_w, _, px) = &img;
        let disc_rows = (0..h)
            .filter(|&y| (40..200).filter(|&x| {
                let i = ((y * px_w + x) * 4) as usize;
                yellow(px[i], px[i + 1], px[i + 2])
            }).count() > 80)
            .count();
        assert!(disc_rows > 4 * 60, "{name}: {disc_rows} pixel rows with a letter disc");
        println!("MEASURE elder {name}: {:.0} % dark, {:.1} % yellow -> {}", dark * 100.0, accent * 100.0, out.display());
    }
}
