//! Spoken guidance, pure: what the kiosk says for each [`Prompt`], as a sequence of clips (the
//! files under the voice folder, shared with the hall display where they overlap) and pauses.
//! [`crate::voice`] plays them.

use qcall_audio::numbers::{en_number, zh_number};

use crate::config::Language;
use crate::escpos::PrinterFault;

/// Something the kiosk says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// "请选择办理的业务": the first touch after the kiosk stood idle.
    ChooseService,
    /// "请取走您的号票，您前面还有 3 人" after the ticket printed.
    TakeTicket { ahead: u32 },
    /// "已为您排队。号票未能打印，请记住您的号码：A 0 1 2 号": the number is on screen only.
    NotPrinted { number: String },
    /// "打印机缺纸，请联系工作人员" and the other printer faults, when someone is at the kiosk.
    Fault(PrinterFault),
}

/// One piece of what is said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A clip by name (file under the voice folder, without `.wav`).
    Clip(String),
    Silence { ms: u32 },
}

/// The pause between the sentences of one prompt.
pub const PAUSE_MS: u32 = 250;

fn dir(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "zh-CN",
        Language::En => "en",
    }
}

fn clip(lang: Language, name: &str) -> Segment {
    Segment::Clip(format!("{}/guide_{name}", dir(lang)))
}

fn fault_clip(f: &PrinterFault) -> &'static str {
    match f {
        PrinterFault::PaperEnd => "paper_end",
        PrinterFault::CoverOpen => "cover_open",
        PrinterFault::Error => "printer_error",
        PrinterFault::Offline => "printer_offline",
        PrinterFault::NoReply => "printer_silent",
        PrinterFault::Port(_) => "printer_link",
    }
}

/// A ticket number letter by letter and digit by digit ("A012": A, 0, 1, 2), the hall
/// display's clips.
fn number_clips(number: &str, lang: Language) -> Vec<Segment> {
    number
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' | 'a'..='z' => Some(format!("{}/letter_{}", dir(lang), c.to_ascii_lowercase())),
            '0'..='9' => Some(format!("{}/digit_{c}", dir(lang))),
            _ => None,
        })
        .map(Segment::Clip)
        .collect()
}

/// What is said for `prompt` in `lang`.
pub fn build(prompt: &Prompt, lang: Language) -> Vec<Segment> {
    let pause = Segment::Silence { ms: PAUSE_MS };
    match prompt {
        Prompt::ChooseService => vec![clip(lang, "choose_service")],
        Prompt::TakeTicket { ahead: 0 } => vec![clip(lang, "take_ticket"), pause, clip(lang, "watch_calls")],
        Prompt::TakeTicket { ahead } => {
            let mut v = vec![clip(lang, "take_ticket"), pause, clip(lang, "ahead")];
            match lang {
                Language::Zh => {
                    v.extend(zh_number(*ahead).iter().map(|w| Segment::Clip(w.clip_name())));
                    v.push(clip(lang, "ren"));
                }
                Language::En => v.extend(en_number(*ahead).iter().map(|w| Segment::Clip(w.clip_name()))),
            }
            v
        }
        Prompt::NotPrinted { number } => {
            let mut v = vec![clip(lang, "not_printed"), pause];
            v.extend(number_clips(number, lang));
            if lang == Language::Zh {
                v.push(Segment::Clip("zh-CN/hao".into()));
            }
            v
        }
        Prompt::Fault(f) => vec![clip(lang, fault_clip(f)), pause, clip(lang, "call_staff")],
    }
}

/// Every clip the guidance can use, in both languages: the voice folder must hold them all.
pub fn all_clips() -> Vec<String> {
    let faults = [
        PrinterFault::PaperEnd,
        PrinterFault::CoverOpen,
        PrinterFault::Error,
        PrinterFault::Offline,
        PrinterFault::NoReply,
        PrinterFault::Port(String::new()),
    ];
    let every_character: String = ('A'..='Z').chain('0'..='9').collect();
    let mut prompts = vec![Prompt::ChooseService, Prompt::TakeTicket { ahead: 0 }, Prompt::NotPrinted { number: every_character }];
    prompts.extend(faults.into_iter().map(Prompt::Fault));
    let mut names: Vec<String> = vec![];
    for lang in [Language::Zh, Language::En] {
        for p in &prompts {
            names.extend(build(p, lang).into_iter().filter_map(|s| match s {
                Segment::Clip(c) => Some(c),
                Segment::Silence { .. } => None,
            }));
        }
        names.push(format!("{}/guide_ahead", dir(lang)));
    }
    names.push("zh-CN/guide_ren".into());
    names.extend(qcall_audio::numbers::ZhNum::all().iter().map(|w| w.clip_name()));
    names.extend(qcall_audio::numbers::EnNum::all().iter().map(|w| w.clip_name()));
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &Prompt, lang: Language) -> Vec<String> {
        build(p, lang)
            .into_iter()
            .map(|s| match s {
                Segment::Clip(c) => c,
                Segment::Silence { ms } => format!("({ms} ms)"),
            })
            .collect()
    }

    #[test]
    fn what_the_kiosk_says() {
        assert_eq!(names(&Prompt::ChooseService, Language::Zh), ["zh-CN/guide_choose_service"]);
        assert_eq!(
            names(&Prompt::TakeTicket { ahead: 3 }, Language::Zh),
            ["zh-CN/guide_take_ticket", "(250 ms)", "zh-CN/guide_ahead", "zh-CN/digit_3", "zh-CN/guide_ren"]
        );
        assert_eq!(
            names(&Prompt::TakeTicket { ahead: 12 }, Language::Zh)[3..],
            ["zh-CN/shi", "zh-CN/digit_2", "zh-CN/guide_ren"]
        );
        assert_eq!(names(&Prompt::TakeTicket { ahead: 21 }, Language::En)[3..], ["en/num_20", "en/num_1"]);
        assert_eq!(names(&Prompt::TakeTicket { ahead: 0 }, Language::Zh)[2], "zh-CN/guide_watch_calls");
        assert_eq!(
            names(&Prompt::Fault(PrinterFault::PaperEnd), Language::Zh),
            ["zh-CN/guide_paper_end", "(250 ms)", "zh-CN/guide_call_staff"]
        );
        assert_eq!(names(&Prompt::Fault(PrinterFault::Port("x".into())), Language::En)[0], "en/guide_printer_link");
    }

    #[test]
    fn the_shipped_voice_folder_holds_every_clip() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/voice");
        let clips = qcall_audio::Clips::load(&dir, all_clips()).unwrap();
        assert_eq!(clips.format, qcall_audio::Format { sample_rate: 22050, channels: 1 });
        assert!(all_clips().contains(&"zh-CN/digit_9".to_string()) && all_clips().contains(&"en/num_90".to_string()));
    }
}
