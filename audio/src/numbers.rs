//! Numbers as spoken words, by the clips that say them: a counter number in a call, the people
//! ahead of a ticket in the kiosk's guidance.

/// Mandarin number words (`zh-CN/digit_N`, `zh-CN/shi`, `zh-CN/bai`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZhNum {
    /// 零 … 九
    Digit(u8),
    /// 十
    Shi,
    /// 百
    Bai,
}

/// English number words (`en/digit_N` "zero" … "nine", `en/num_N` "one" … "nineteen",
/// "twenty" … "ninety").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EnNum {
    Digit(u8),
    Num(u8),
}

impl ZhNum {
    /// The clip's name under the voice folder.
    pub fn clip_name(&self) -> String {
        match self {
            ZhNum::Digit(d) => format!("zh-CN/digit_{d}"),
            ZhNum::Shi => "zh-CN/shi".into(),
            ZhNum::Bai => "zh-CN/bai".into(),
        }
    }

    /// Every Mandarin number clip.
    pub fn all() -> Vec<ZhNum> {
        (0..10).map(ZhNum::Digit).chain([ZhNum::Shi, ZhNum::Bai]).collect()
    }
}

impl EnNum {
    pub fn clip_name(&self) -> String {
        match self {
            EnNum::Digit(d) => format!("en/digit_{d}"),
            EnNum::Num(n) => format!("en/num_{n}"),
        }
    }

    /// Every English number clip.
    pub fn all() -> Vec<EnNum> {
        (0..10).map(EnNum::Digit).chain((1..20).chain((20..100).step_by(10)).map(EnNum::Num)).collect()
    }
}

/// A number read in Mandarin: 3 -> 三, 10 -> 十, 12 -> 十二, 20 -> 二十,
/// 105 -> 一百零五, 110 -> 一百一十. From 1000 on the digits are read one by one.
pub fn zh_number(n: u32) -> Vec<ZhNum> {
    let d = |x: u32| ZhNum::Digit(x as u8);
    match n {
        0..=9 => vec![d(n)],
        10..=19 => {
            let mut v = vec![ZhNum::Shi];
            if !n.is_multiple_of(10) {
                v.push(d(n % 10));
            }
            v
        }
        20..=99 => {
            let mut v = vec![d(n / 10), ZhNum::Shi];
            if !n.is_multiple_of(10) {
                v.push(d(n % 10));
            }
            v
        }
        100..=999 => {
            let mut v = vec![d(n / 100), ZhNum::Bai];
            let rest = n % 100;
            if rest == 0 {
            } else if rest < 10 {
                v.push(ZhNum::Digit(0));
                v.push(d(rest));
            } else {
                v.push(d(rest / 10));
                v.push(ZhNum::Shi);
                if !rest.is_multiple_of(10) {
                    v.push(d(rest % 10));
                }
            }
            v
        }
        _ => n.to_string().bytes().map(|b| ZhNum::Digit(b - b'0')).collect(),
    }
}

/// A number read in English: 3 -> three, 12 -> twelve, 21 -> twenty one.
/// From 100 on the digits are read one by one.
pub fn en_number(n: u32) -> Vec<EnNum> {
    match n {
        0 => vec![EnNum::Digit(0)],
        1..=19 => vec![EnNum::Num(n as u8)],
        20..=99 => {
            let mut v = vec![EnNum::Num((n / 10 * 10) as u8)];
            if !n.is_multiple_of(10) {
                v.push(EnNum::Num((n % 10) as u8));
            }
            v
        }
        _ => n.to_string().bytes().map(|b| EnNum::Digit(b - b'0')).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_say_them() {
        use ZhNum::*;
        assert_eq!(zh_number(3), [Digit(3)]);
        assert_eq!(zh_number(12), [Shi, Digit(2)]);
        assert_eq!(zh_number(20), [Digit(2), Shi]);
        assert_eq!(zh_number(105), [Digit(1), Bai, Digit(0), Digit(5)]);
        assert_eq!(en_number(21), [EnNum::Num(20), EnNum::Num(1)]);
        assert_eq!(ZhNum::Shi.clip_name(), "zh-CN/shi");
        assert_eq!(EnNum::Num(13).clip_name(), "en/num_13");
        assert_eq!(EnNum::all().len(), 10 + 19 + 8);
    }
}
