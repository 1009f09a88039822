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
pub const EARLIER_TICKET: Text = t("您刚才的取号已成功，请取走号票", "Your earlier ticket was issued: please take it");
pub const NOT_PRINTED: Text = t(
    "号票未能打印，请记住您的号码，已为您排队",
    "The ticket could not be printed. Please remember your number: you are in the queue.",
);

/// The week's days, Monday first.
pub const WEEKDAYS_ZH: [&str; 7] = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"];
