//! Every text the kiosk shows, in both languages.

/// One text in Chinese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub zh: &'static str,
    pub en: &'static str,
}

impl Text {
    pub fn pick(self, en: bool) -> &'static str {
        if en {
            self.en
        } else {
            self.zh
        }
    }
}

const fn t(zh: &'static str, en: &'static str) -> Text {
    Text { zh, en }
}

pub const CONNECTING: Text = t("正在连接系统…", "Connecting to the queue system…");
pub const LINK_DOWN: Text = t("系统连接中断，暂停取号，正在自动重连", "System connection lost: tickets paused, reconnecting");
pub const PRIORITY_MODE: Text = t("绿色通道：请选择业务，将优先叫号", "Priority lane: choose a service; you will be called first");
pub const NETWORK_FAILED: Text = t("网络异常，未能取号，请稍后重试", "Network problem: no ticket was issued. Please try again.");
pub const SOLD_OUT: Text = t("该业务今日号票已发完", "This service has no more tickets today.");
pub const SERVICE_UNAVAILABLE: Text = t("该业务暂不可用", "This service is not available.");
pub const NOT_AUTHORISED: Text = t("取号机未获授权，请联系工作人员", "This kiosk is not authorised. Please ask staff.");
pub const BUSY: Text = t("系统繁忙，请稍后重试", "The system is busy. Please try again.");
pub const SOLD_OUT_SHORT: Text = t("今日已发完", "No more today");
pub const TAKE_TICKET: Text = t("请取走您的号票", "Please take your ticket");
pub const YOUR_NUMBER: Text = t("您的号码", "Your number");
pub const CHECKED_IN_BEFORE: Text = t("您已签到，号码不变，不再重复打印", "Already checked in: the same number, not printed again");
pub const EARLIER_TICKET: Text = t("您刚才的取号已成功，请取走号票", "Your earlier ticket was issued: please take it");
pub const NOT_PRINTED: Text = t(
    "已为您排队。号票未能打印，请记住号码，或到导税台取号",
    "You are in the queue. The ticket could not be printed: please remember your number, or ask at the help desk.",
);

pub const ISSUING_STOPPED: Text = t("今日已停止取号", "No more tickets today.");
/// A service whose queue will not be served before the period closes (号源已满).
pub const FULL_SHORT: Text = t("号源已满", "Full");
/// Another hall that issues no tickets of the service now.
pub const OTHER_HALL_STOPPED: Text = t("暂停取号", "not issuing now");
/// Another hall's own server is not heard from (断网): its waits are not known.
pub const OTHER_HALL_UNAVAILABLE: Text = t("暂不可用", "unavailable");
/// No counter serving the service is open: no wait can be told.
pub const UNSTAFFED: Text = t("暂无窗口办理", "no counter open yet");
pub const CHECK_IN_FORMAT: Text = t("请输入 8 位预约码、线上取号签到码或 18 位身份证号码", "Enter the 8-digit booking or check-in code, or the 18-character resident ID number.");
pub const NETWORK_CHECK_IN: Text = t("网络异常，请再按一次签到", "Network problem: please press check in again.");
pub const TOO_EARLY: Text = t("还未到签到时间，或先取普通号", "Check-in has not opened yet; or take an ordinary ticket now.");
pub const TOO_LATE: Text = t("已过签到时间，预约已失效，请取普通号", "The check-in time has passed: please take an ordinary ticket.");
pub const UNKNOWN_BOOKING: Text = t("未找到预约，请核对预约码或身份证号码", "No appointment found: please check the code or ID number.");
pub const BOOKING_CANCELLED: Text = t("该预约已取消", "This appointment was cancelled.");
/// Under a printer fault's banner: walk-ins go on without paper.
pub const PAPERLESS: Text = t("仍可取号：号码显示在屏幕上，可扫码查看", "Tickets are still issued: your number is shown on screen");
pub const OVERTIME: Text = t("可能进入延时服务", "may run into extended hours");

// 短信提醒: a mobile number left at the kiosk for the ticket's text reminders.
/// The ticket screen's button.
pub const PHONE_OFFER: Text = t("短信提醒：轮到前发短信通知我", "Text me before my turn");
/// On the ticket screen once a number was left ("138****1234" follows).
pub const PHONE_LEFT: Text = t("已登记短信提醒", "Text reminders to");
pub const PHONE_TITLE: Text = t("短信提醒", "Text reminders");
/// What the number is for and how long it is kept: on the screen before any digit is typed.
pub const PHONE_PURPOSE: Text = t(
    "号码仅用于本号的叫号短信提醒，当日营业结束即删除",
    "Used only for this ticket's reminders; deleted at the end of the day",
);
pub const PHONE_YOUR_NUMBER: Text = t("您的号码", "Your number");
pub const PHONE_PLACEHOLDER: Text = t("请输入 11 位手机号码", "Your 11-digit mobile number");
pub const PHONE_SUBMIT: Text = t("确定", "OK");
pub const PHONE_CLEAR: Text = t("清空", "Clear");
/// Leaves the phone step for home (the ticket was printed).
pub const PHONE_SKIP: Text = t("跳过", "Skip");
/// Leaves the phone step for the number on screen (the ticket was not printed).
pub const PHONE_BACK: Text = t("返回", "Back");
pub const PHONE_SENDING: Text = t("正在登记…", "Saving your number…");
pub const PHONE_INVALID: Text = t("请输入 1 开头的 11 位手机号码", "Please enter an 11-digit mobile number starting with 1.");
pub const PHONE_NETWORK: Text = t("网络异常，号码未登记，请再按确定", "Network problem: the number was not saved. Please press OK again.");
pub const PHONE_REFUSED: Text = t("该号码无法登记，请核对后重新输入", "That number was not accepted: please check it and try again.");
pub const PHONE_UNAVAILABLE: Text = t("本厅暂不发送短信提醒，请留意大屏和语音叫号", "This hall is not sending text reminders now: please watch the screens.");
pub const PHONE_NOT_WAITING: Text = t("本号已不在等候中，无需短信提醒", "This ticket is no longer waiting: no reminder can be set.");
pub const PHONE_NOT_HERE: Text = t(
    "本机暂不能登记号码，请扫描号票二维码在手机上登记",
    "This kiosk cannot take numbers now: scan your ticket's QR code to leave one on your phone.",
);
/// Under the confirmation: a touch goes on.
pub const PHONE_DONE_TOUCH: Text = t("点击屏幕继续", "Tap the screen to go on");

/// The week's days, Monday first.
pub const WEEKDAYS_SHORT_ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
/// The week's days, Monday first.
pub const WEEKDAYS_ZH: [&str; 7] = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"];
