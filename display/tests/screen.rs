//! The hall screen rendered with Slint's software renderer, no window system: Chinese text must
//! really draw (ink where the text is) and the current number must be at least a fifth of the
//! screen height.

use std::time::Duration;

use qcall_display::controller::{RecentRow, ViewModel, WaitingRow};
use qcall_display::ui::{apply, Frame, Headless};

const W: u32 = 1920;
const H: u32 = 1080;

fn view() -> ViewModel {
    ViewModel {
        hall_name: "东区办税服务厅".into(),
        hall_name_en: "East Tax Service Hall".into(),
        date_text: "2026年9月23日 星期三".into(),
        clock_text: "09:30:05".into(),
        has_call: true,
        latest_ticket: "A012".into(),
        latest_counter: "3号窗口".into(),
        latest_zh: "请 A012 号到 3 号窗口办理".into(),
        latest_en: "Number A012, please go to counter 3".into(),
        highlight: false,
        recent: vec![
            RecentRow { counter: "3号窗口".into(), ticket: "A012".into(), appointment: false, priority: false },
            RecentRow { counter: "1号窗口".into(), ticket: "B007".into(), appointment: true, priority: false },
        ],
        waiting: vec![
            WaitingRow { prefix: "A".into(), name: "申报纳税".into(), name_en: "Tax filing".into(), waiting: 12, wait: "约15–25分钟".into() },
            WaitingRow { prefix: "B".into(), name: "发票业务".into(), name_en: "Invoices".into(), waiting: 3, wait: "少于5分钟".into() },
        ],
        ticker_text: "税法宣传　　依法诚信纳税，共建和谐社会".into(),
        connected: true,
        connection_text: "已连接".into(),
    }
}

fn render(h: &mut Headless, vm: &ViewModel) -> Frame {
    apply(&h.app, vm, None);
    h.app.global::<qcall_display::ui::HallAdapter>().set_ticker_offset(1900.0);
    h.advance(Duration::from_secs(1));
    h.frame()
}

/// Bounding box (x0, y0, x1, y1) and count of the pixels that differ between two frames.
fn diff(a: &Frame, b: &Frame) -> (usize, (u32, u32, u32, u32)) {
    let mut n = 0;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..a.height {
        for x in 0..a.width {
            if a.pixel(x, y) != b.pixel(x, y) {
                n += 1;
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    (n, (x0, y0, x1, y1))
}

use slint::ComponentHandle;

#[test]
fn chinese_text_draws_and_the_number_is_big() {
    let mut h = Headless::new(W, H).unwrap();
    let full = render(&mut h, &view());
    full.write_png(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("display-screen-test.png")).unwrap();

    // Hall name: only Chinese characters, so ink there means the bundled CJK font drew.
    let no_name = render(&mut h, &ViewModel { hall_name: String::new(), ..view() });
    let (n, (x0, y0, x1, y1)) = diff(&full, &no_name);
    assert!(n > 3000, "hall name drew only {n} pixels");
    assert!(y1 < 110 && x0 < 200, "hall name ink at ({x0},{y0})-({x1},{y1}), expected top left");
    assert!(x1 - x0 > 300, "seven characters at 56 px are wide, got {}", x1 - x0);

    // Ticker: Chinese text in the bottom band.
    let no_ticker = render(&mut h, &ViewModel { ticker_text: String::new(), ..view() });
    let (n, (_, y0, _, y1)) = diff(&full, &no_ticker);
    assert!(n > 3000 && y0 >= 1000 && y1 < H, "ticker ink {n} px at rows {y0}..{y1}");
    // The view tells how far the ticker moves before it repeats: screen width plus text width.
    render(&mut h, &view());
    let cycle = h.app.global::<qcall_display::ui::HallAdapter>().get_ticker_cycle();
    assert!(cycle > W as f32 + 600.0 && cycle < W as f32 + 2000.0, "ticker cycle {cycle}");

    // Waiting counts: the service name 申报纳税 draws.
    let renamed = render(&mut h, &ViewModel { waiting: vec![WaitingRow { name: String::new(), ..view().waiting[0].clone() }, view().waiting[1].clone()], ..view() });
    let (n, (x0, y0, _, _)) = diff(&full, &renamed);
    assert!(n > 1000 && y0 > 636 && x0 > W / 2, "service name ink {n} px at ({x0},{y0})");

    // The current number: its ink is at least a fifth of the screen height.
    let no_number = render(&mut h, &ViewModel { latest_ticket: String::new(), ..view() });
    let (n, (_, y0, _, y1)) = diff(&full, &no_number);
    assert!(n > 10_000, "number drew {n} pixels");
    let ink_rows: Vec<u32> = (y0..=y1)
        .filter(|y| (0..W).any(|x| full.pixel(x, *y) == [0xff, 0xd4, 0x3b]))
        .collect();
    let tall = ink_rows.last().unwrap() - ink_rows.first().unwrap() + 1;
    assert!(tall >= H / 5, "current number is {tall} px tall, needs {} (a fifth of the screen)", H / 5);

    // Highlight changes the call panel's background.
    let lit = render(&mut h, &ViewModel { highlight: true, ..view() });
    let (n, (_, y0, _, y1)) = diff(&full, &lit);
    assert!(n > 200_000 && y0 >= 110 && y1 < 640, "highlight changed {n} px at rows {y0}..{y1}");
}
