//! Announcement building: a pure "ticket + counter -> clip sequence".
//!
//! The Mandarin sentence is 请 · letter · digits one by one · 号 · 到 · counter number read as a
//! number · 号窗口 · 办理 ("请 A012 号到 3 号窗口办理"). The optional English sentence is
//! "Number A 0 1 2, please go to counter 3". A chime comes first, then the sentence(s) are
//! repeated `repeat` times. Clip names are file names under the voice folder (without `.wav`);
//! `assets/voice/README.md` lists them all.

use qcall_audio::numbers::{self, EnNum, ZhNum};
use thiserror::Error;

/// One recorded clip, named by its file (relative to the voice folder, without `.wav`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Clip {
    Chime,
    Zh(ZhWord),
    En(EnWord),
}

/// Mandarin clips (`zh-CN/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZhWord {
    /// 请
    Qing,
    /// A letter, spoken by its English name (`'a'..='z'`).
    Letter(char),
    /// 零 … 九
    Digit(u8),
    /// 十
    Shi,
    /// 百
    Bai,
    /// 号
    Hao,
    /// 到
    Dao,
    /// 号窗口
    HaoChuangkou,
    /// 办理
    Banli,
}

/// English clips (`en/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnWord {
    /// "Number"
    Number,
    Letter(char),
    /// "zero" … "nine"
    Digit(u8),
    /// "one" … "nineteen", "twenty", "thirty" … "ninety"
    Num(u8),
    /// "please go to counter"
    PleaseGoToCounter,
}

impl Clip {
    /// The clip's file name relative to the voice folder, without extension.
    pub fn name(&self) -> String {
        match self {
            Clip::Chime => "chime".to_string(),
            Clip::Zh(w) => format!(
                "zh-CN/{}",
                match w {
                    ZhWord::Qing => "qing".to_string(),
                    ZhWord::Letter(c) => format!("letter_{c}"),
                    ZhWord::Digit(d) => format!("digit_{d}"),
                    ZhWord::Shi => "shi".to_string(),
                    ZhWord::Bai => "bai".to_string(),
                    ZhWord::Hao => "hao".to_string(),
                    ZhWord::Dao => "dao".to_string(),
                    ZhWord::HaoChuangkou => "hao_chuangkou".to_string(),
                    ZhWord::Banli => "banli".to_string(),
                }
            ),
            Clip::En(w) => format!(
                "en/{}",
                match w {
                    EnWord::Number => "number".to_string(),
                    EnWord::Letter(c) => format!("letter_{c}"),
                    EnWord::Digit(d) => format!("digit_{d}"),
                    EnWord::Num(n) => format!("num_{n}"),
                    EnWord::PleaseGoToCounter => "please_go_to_counter".to_string(),
                }
            ),
        }
    }

    /// Every clip an announcement can use: the voice folder must hold all of them.
    pub fn all() -> Vec<Clip> {
        let mut v = vec![Clip::Chime];
        for w in [
            ZhWord::Qing,
            ZhWord::Shi,
            ZhWord::Bai,
            ZhWord::Hao,
            ZhWord::Dao,
            ZhWord::HaoChuangkou,
            ZhWord::Banli,
        ] {
            v.push(Clip::Zh(w));
        }
        for d in 0..10 {
            v.push(Clip::Zh(ZhWord::Digit(d)));
            v.push(Clip::En(EnWord::Digit(d)));
        }
        for c in 'a'..='z' {
            v.push(Clip::Zh(ZhWord::Letter(c)));
            v.push(Clip::En(EnWord::Letter(c)));
        }
        v.push(Clip::En(EnWord::Number));
        v.push(Clip::En(EnWord::PleaseGoToCounter));
        for n in (1..20).chain((20..100).step_by(10)) {
            v.push(Clip::En(EnWord::Num(n)));
        }
        v.sort();
        v
    }
}

/// One piece of an announcement: a clip or a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Clip(Clip),
    Silence { ms: u32 },
}

/// How an announcement is put together (from the display config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceOptions {
    /// Say the English sentence after the Mandarin one.
    pub english: bool,
    /// Times the sentence(s) are spoken after the chime (at least 1).
    pub repeat: u32,
    /// Pause between words.
    pub word_gap_ms: u32,
    /// Pause after the chime, between the languages and between repeats.
    pub sentence_gap_ms: u32,
}

impl Default for AnnounceOptions {
    fn default() -> Self {
        AnnounceOptions { english: false, repeat: 2, word_gap_ms: 60, sentence_gap_ms: 700 }
    }
}

/// A call to announce: what the voice says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub ticket: String,
    pub counter_number: u32,
    pub segments: Vec<Segment>,
}

impl Announcement {
    /// The clips in order, pauses left out.
    pub fn clips(&self) -> Vec<Clip> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Clip(c) => Some(*c),
                Segment::Silence { .. } => None,
            })
            .collect()
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AnnounceError {
    #[error("ticket number {0:?} is not letters followed by digits")]
    BadTicket(String),
    #[error("counter number must be at least 1")]
    BadCounter,
}

/// A ticket number split into its letters and digits (`A012` -> `['a'], [0, 1, 2]`).
fn split_ticket(ticket: &str) -> Result<(Vec<char>, Vec<u8>), AnnounceError> {
    let bad = || AnnounceError::BadTicket(ticket.to_string());
    let letters: Vec<char> =
        ticket.chars().take_while(|c| c.is_ascii_alphabetic()).map(|c| c.to_ascii_lowercase()).collect();
    let rest = &ticket[letters.len()..];
    if letters.is_empty() || rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = rest.bytes().map(|b| b - b'0').collect();
    Ok((letters, digits))
}

/// A counter number read as a Mandarin number: 3 -> 三, 10 -> 十, 12 -> 十二, 20 -> 二十,
/// 105 -> 一百零五, 110 -> 一百一十. From 1000 on the digits are read one by one.
pub fn zh_number(n: u32) -> Vec<ZhWord> {
    numbers::zh_number(n)
        .into_iter()
        .map(|w| match w {
            ZhNum::Digit(d) => ZhWord::Digit(d),
            ZhNum::Shi => ZhWord::Shi,
            ZhNum::Bai => ZhWord::Bai,
        })
        .collect()
}

/// A counter number read as an English number: 3 -> three, 12 -> twelve, 21 -> twenty one.
/// From 100 on the digits are read one by one.
pub fn en_number(n: u32) -> Vec<EnWord> {
    numbers::en_number(n)
        .into_iter()
        .map(|w| match w {
            EnNum::Digit(d) => EnWord::Digit(d),
            EnNum::Num(n) => EnWord::Num(n),
        })
        .collect()
}

/// Builds the announcement for `ticket` called to counter number `counter`.
pub fn build(ticket: &str, counter: u32, opts: &AnnounceOptions) -> Result<Announcement, AnnounceError> {
    let (letters, digits) = split_ticket(ticket)?;
    if counter == 0 {
        return Err(AnnounceError::BadCounter);
    }
    let mut zh = vec![ZhWord::Qing];
    zh.extend(letters.iter().map(|c| ZhWord::Letter(*c)));
    zh.extend(digits.iter().map(|d| ZhWord::Digit(*d)));
    zh.push(ZhWord::Hao);
    zh.push(ZhWord::Dao);
    zh.extend(zh_number(counter));
    zh.push(ZhWord::HaoChuangkou);
    zh.push(ZhWord::Banli);

    let mut en = vec![EnWord::Number];
    en.extend(letters.iter().map(|c| EnWord::Letter(*c)));
    en.extend(digits.iter().map(|d| EnWord::Digit(*d)));
    en.push(EnWord::PleaseGoToCounter);
    en.extend(en_number(counter));

    let words = |clips: Vec<Clip>, out: &mut Vec<Segment>| {
        for (i, c) in clips.into_iter().enumerate() {
            if i > 0 {
                out.push(Segment::Silence { ms: opts.word_gap_ms });
            }
            out.push(Segment::Clip(c));
        }
    };
    let mut segments = vec![Segment::Clip(Clip::Chime)];
    for _ in 0..opts.repeat.max(1) {
        segments.push(Segment::Silence { ms: opts.sentence_gap_ms });
        words(zh.iter().map(|w| Clip::Zh(*w)).collect(), &mut segments);
        if opts.english {
            segments.push(Segment::Silence { ms: opts.sentence_gap_ms });
            words(en.iter().map(|w| Clip::En(*w)).collect(), &mut segments);
        }
    }
    Ok(Announcement { ticket: ticket.to_string(), counter_number: counter, segments })
}

/// The Mandarin line shown on screen: "请 A012 号到 3 号窗口办理".
pub fn zh_line(ticket: &str, counter: u32) -> String {
    format!("请 {ticket} 号到 {counter} 号窗口办理")
}

/// The English line shown on screen: "Number A012, please go to counter 3".
pub fn en_line(ticket: &str, counter: u32) -> String {
    format!("Number {ticket}, please go to counter {counter}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ticket: &str, counter: u32, opts: &AnnounceOptions) -> Vec<String> {
        build(ticket, counter, opts).unwrap().clips().iter().map(Clip::name).collect()
    }

    fn once() -> AnnounceOptions {
        AnnounceOptions { repeat: 1, ..AnnounceOptions::default() }
    }

    fn zh(words: &[&str]) -> Vec<String> {
        let mut v = vec!["chime".to_string()];
        v.extend(words.iter().map(|w| format!("zh-CN/{w}")));
        v
    }

    #[test]
    fn a001_at_counter_1() {
        assert_eq!(
            names("A001", 1, &once()),
            zh(&["qing", "letter_a", "digit_0", "digit_0", "digit_1", "hao", "dao", "digit_1", "hao_chuangkou", "banli"])
        );
    }

    #[test]
    fn a010_at_counter_10() {
        assert_eq!(
            names("A010", 10, &once()),
            zh(&["qing", "letter_a", "digit_0", "digit_1", "digit_0", "hao", "dao", "shi", "hao_chuangkou", "banli"])
        );
    }

    #[test]
    fn b100_at_counter_12() {
        assert_eq!(
            names("B100", 12, &once()),
            zh(&["qing", "letter_b", "digit_1", "digit_0", "digit_0", "hao", "dao", "shi", "digit_2", "hao_chuangkou", "banli"])
        );
    }

    #[test]
    fn c1000_at_counter_20() {
        assert_eq!(
            names("C1000", 20, &once()),
            zh(&[
                "qing", "letter_c", "digit_1", "digit_0", "digit_0", "digit_0", "hao", "dao", "digit_2", "shi",
                "hao_chuangkou", "banli"
            ])
        );
    }

    #[test]
    fn repeat_says_the_sentence_again_after_one_chime() {
        let one = names("A012", 3, &once());
        let two = names("A012", 3, &AnnounceOptions::default());
        assert_eq!(two.len(), 1 + 2 * (one.len() - 1));
        assert_eq!(two.iter().filter(|n| *n == "chime").count(), 1);
        assert_eq!(&two[1..one.len()], &one[1..]);
        assert_eq!(&two[one.len()..], &one[1..]);
    }

    #[test]
    fn english_sentence_follows_mandarin() {
        let opts = AnnounceOptions { english: true, repeat: 1, ..AnnounceOptions::default() };
        let n = names("A012", 3, &opts);
        let en: Vec<&str> = n.iter().filter(|s| s.starts_with("en/")).map(String::as_str).collect();
        assert_eq!(
            en,
            ["en/number", "en/letter_a", "en/digit_0", "en/digit_1", "en/digit_2", "en/please_go_to_counter", "en/num_3"]
        );
        assert_eq!(n.last().unwrap(), "en/num_3");
        let en21: Vec<String> = names("D007", 21, &opts).into_iter().filter(|s| s.starts_with("en/")).collect();
        assert_eq!(en21[en21.len() - 2..], ["en/num_20".to_string(), "en/num_1".to_string()]);
    }

    #[test]
    fn gaps_between_words_and_sentences() {
        let opts = AnnounceOptions { english: false, repeat: 2, word_gap_ms: 50, sentence_gap_ms: 600 };
        let a = build("A1", 2, &opts).unwrap();
        let gaps: Vec<u32> = a
            .segments
            .iter()
            .filter_map(|s| if let Segment::Silence { ms } = s { Some(*ms) } else { None })
            .collect();
        // chime, gap, 请 A 1 号 到 二 号窗口 办理 (8 words, 7 gaps), twice.
        let mut want = vec![600];
        want.extend([50; 7]);
        want.push(600);
        want.extend([50; 7]);
        assert_eq!(gaps, want);
        assert!(matches!(a.segments.last(), Some(Segment::Clip(_))));
    }

    #[test]
    fn mandarin_numbers() {
        use ZhWord::*;
        assert_eq!(zh_number(3), [Digit(3)]);
        assert_eq!(zh_number(10), [Shi]);
        assert_eq!(zh_number(12), [Shi, Digit(2)]);
        assert_eq!(zh_number(20), [Digit(2), Shi]);
        assert_eq!(zh_number(45), [Digit(4), Shi, Digit(5)]);
        assert_eq!(zh_number(100), [Digit(1), Bai]);
        assert_eq!(zh_number(105), [Digit(1), Bai, Digit(0), Digit(5)]);
        assert_eq!(zh_number(110), [Digit(1), Bai, Digit(1), Shi]);
        assert_eq!(zh_number(1234), [Digit(1), Digit(2), Digit(3), Digit(4)]);
    }

    #[test]
    fn bad_input_is_refused() {
        let o = once();
        assert_eq!(build("012", 1, &o), Err(AnnounceError::BadTicket("012".into())));
        assert_eq!(build("A", 1, &o), Err(AnnounceError::BadTicket("A".into())));
        assert_eq!(build("A0x1", 1, &o), Err(AnnounceError::BadTicket("A0x1".into())));
        assert_eq!(build("号1", 1, &o), Err(AnnounceError::BadTicket("号1".into())));
        assert_eq!(build("A001", 0, &o), Err(AnnounceError::BadCounter));
    }

    #[test]
    fn every_clip_used_is_listed() {
        let all = Clip::all();
        let opts = AnnounceOptions { english: true, ..AnnounceOptions::default() };
        for (t, c) in [("A001", 1), ("Z987", 99), ("B100", 120), ("C1000", 20), ("D5", 1001)] {
            for clip in build(t, c, &opts).unwrap().clips() {
                assert!(all.contains(&clip), "{clip:?} missing from Clip::all()");
            }
        }
    }
}
