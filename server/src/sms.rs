//! Text messages (短信) through a bureau's SMS provider, pure: a message, the time and a nonce
//! in, the provider's documented HTTP request out, signed; and the provider's answer read
//! back. The outbox task sends the requests (`server::sms`).
//!
//! - Alibaba Cloud SMS (`SendSms`, API version 2017-05-25): RPC style, the parameters in a form
//!   body, signed with HMAC-SHA1 over the canonicalised query (signature version 1.0).
//! - Tencent Cloud SMS (`SendSms`, API version 2021-01-11): a JSON body, signed with
//!   TC3-HMAC-SHA256 in the `Authorization` header.
//! - A generic HTTP webhook for a bureau's own SMS platform: a JSON body with an HMAC-SHA256
//!   of the timestamp and the body in `X-Qcall-Signature`.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What a message is for; each has its template at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// A one-time code proving the phone is the booker's (`code`).
    Code,
    /// The taxpayer's turn is near (`number`, `ahead`, `minutes`, `hall`).
    NearTurn,
    /// Called (`number`, `counter`).
    Called,
    /// A remote ticket's turn is near: come and check in (`number`, `hall`, `minutes`, `code`).
    CheckIn,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Code => "code",
            Purpose::NearTurn => "near_turn",
            Purpose::Called => "called",
            Purpose::CheckIn => "check_in",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        match s {
            "code" => Some(Purpose::Code),
            "near_turn" => Some(Purpose::NearTurn),
            "called" => Some(Purpose::Called),
            "check_in" => Some(Purpose::CheckIn),
            _ => None,
        }
    }

    /// The text a webhook platform (or a log, masked) gets, from the parameters.
    pub fn text(self, params: &BTreeMap<String, String>) -> String {
        let p = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
        match self {
            Purpose::Code => format!("您的预约验证码为 {}，10 分钟内有效，请勿告诉他人。", p("code")),
            Purpose::NearTurn => format!("您的号码 {} 前面还有 {} 人，请留意{}叫号。", p("number"), p("ahead"), p("hall")),
            Purpose::Called => format!("请 {} 号到 {} 号窗口办理。", p("number"), p("counter")),
            Purpose::CheckIn => format!(
                "您线上取的号 {} 即将到号，请于 {} 分钟内到{}取号机签到，签到码 {}。",
                p("number"),
                p("minutes"),
                p("hall"),
                p("code")
            ),
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// 11-digit mainland mobile number.
    pub phone: String,
    pub purpose: Purpose,
    /// The template's variables.
    pub params: BTreeMap<String, String>,
}

/// A request to make, as the provider documents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Which provider, with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Aliyun { endpoint: String, access_key_id: String, access_key_secret: String, region: String },
    Tencent { endpoint: String, secret_id: String, secret_key: String, sdk_app_id: String, region: String },
    Webhook { url: String, secret: String },
}

/// `[sms]`: the provider, the sign name (签名) and each purpose's template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub provider: Provider,
    pub sign_name: String,
    pub templates: BTreeMap<Purpose, String>,
}

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refused {
    pub code: String,
    pub message: String,
}

impl Settings {
    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            Provider::Aliyun { .. } => "aliyun",
            Provider::Tencent { .. } => "tencent",
            Provider::Webhook { .. } => "webhook",
        }
    }

    /// The signed request that sends `msg` at `now` (seconds since the epoch), `nonce` unique.
    pub fn request(&self, msg: &Message, now: i64, nonce: &str) -> HttpRequest {
        let template = self.templates.get(&msg.purpose).cloned().unwrap_or_default();
        match &self.provider {
            Provider::Aliyun { endpoint, access_key_id, access_key_secret, region } => {
                let timestamp = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string();
                let param = serde_json::to_string(&msg.params).unwrap_or_default();
                let mut params: BTreeMap<&str, String> = BTreeMap::new();
                params.insert("AccessKeyId", access_key_id.clone());
                params.insert("Action", "SendSms".into());
                params.insert("Format", "JSON".into());
                params.insert("PhoneNumbers", msg.phone.clone());
                params.insert("RegionId", region.clone());
                params.insert("SignName", self.sign_name.clone());
                params.insert("SignatureMethod", "HMAC-SHA1".into());
                params.insert("SignatureNonce", nonce.into());
                params.insert("SignatureVersion", "1.0".into());
                params.insert("TemplateCode", template);
                params.insert("TemplateParam", param);
                params.insert("Timestamp", timestamp);
                params.insert("Version", "2017-05-25".into());
                let signature = aliyun_signature("POST", &params, access_key_secret);
                let mut body = format!("Signature={}", pop_encode(&signature));
                for (k, v) in &params {
                    body.push('&');
                    body.push_str(&pop_encode(k));
                    body.push('=');
                    body.push_str(&pop_encode(v));
                }
                HttpRequest {
                    url: endpoint.clone(),
                    headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
                    body: body.into_bytes(),
                }
            }
            Provider::Tencent { endpoint, secret_id, secret_key, sdk_app_id, region } => {
                // Template parameters go by position; the template numbers them {1}, {2} … in
                // the order of their names.
                let body = serde_json::json!({
                    "PhoneNumberSet": [format!("+86{}", msg.phone)],
                    "SmsSdkAppId": sdk_app_id,
                    "SignName": self.sign_name,
                    "TemplateId": template,
                    "TemplateParamSet": msg.params.values().collect::<Vec<_>>(),
                    "SessionContext": nonce,
                })
                .to_string();
                let host = host_of(endpoint);
                let content_type = "application/json; charset=utf-8";
                let auth = tc3_authorization(secret_id, secret_key, "sms", &host, content_type, body.as_bytes(), now);
                HttpRequest {
                    url: endpoint.clone(),
                    headers: vec![
                        ("Authorization".into(), auth),
                        ("Content-Type".into(), content_type.into()),
                        ("Host".into(), host),
                        ("X-TC-Action".into(), "SendSms".into()),
                        ("X-TC-Timestamp".into(), now.to_string()),
                        ("X-TC-Version".into(), "2021-01-11".into()),
                        ("X-TC-Region".into(), region.clone()),
                    ],
                    body: body.into_bytes(),
                }
            }
            Provider::Webhook { url, secret } => {
                let body = serde_json::json!({
                    "phone": msg.phone,
                    "purpose": msg.purpose.as_str(),
                    "template": template,
                    "sign_name": self.sign_name,
                    "params": msg.params,
                    "text": msg.purpose.text(&msg.params),
                    "nonce": nonce,
                })
                .to_string();
                HttpRequest {
                    url: url.clone(),
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("X-Qcall-Timestamp".into(), now.to_string()),
                        ("X-Qcall-Signature".into(), webhook_signature(secret, now, body.as_bytes())),
                    ],
                    body: body.into_bytes(),
                }
            }
        }
    }

    /// Whether the provider took the message, from its answer.
    pub fn accepted(&self, status: u16, body: &[u8]) -> Result<(), Refused> {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let refused = |code: &str, message: &str| Err(Refused { code: code.into(), message: message.into() });
        match self.provider {
            // {"Code":"OK","Message":"OK","BizId":…,"RequestId":…}
            Provider::Aliyun { .. } => match v["Code"].as_str() {
                Some("OK") if status == 200 => Ok(()),
                Some(code) => refused(code, v["Message"].as_str().unwrap_or("")),
                None => refused(&format!("http_{status}"), "no Code in the answer"),
            },
            // {"Response":{"SendStatusSet":[{"Code":"Ok",…}],"RequestId":…}} or
            // {"Response":{"Error":{"Code":…,"Message":…},"RequestId":…}}
            Provider::Tencent { .. } => {
                let r = &v["Response"];
                if let Some(code) = r["Error"]["Code"].as_str() {
                    return refused(code, r["Error"]["Message"].as_str().unwrap_or(""));
                }
                match r["SendStatusSet"][0]["Code"].as_str() {
                    Some("Ok") if status == 200 => Ok(()),
                    Some(code) => refused(code, r["SendStatusSet"][0]["Message"].as_str().unwrap_or("")),
                    None => refused(&format!("http_{status}"), "no SendStatusSet in the answer"),
                }
            }
            Provider::Webhook { .. } => {
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    refused(&format!("http_{status}"), v["error"].as_str().unwrap_or(""))
                }
            }
        }
    }
}

fn host_of(url: &str) -> String {
    url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or("").to_string()
}

/// Alibaba Cloud's "POP" percent-encoding: RFC 3986 unreserved characters stay, everything
/// else is %XX (upper case) of its UTF-8 bytes (so a space is %20, `*` is %2A, `~` stays).
pub fn pop_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Signature version 1.0 of an RPC request: Base64(HMAC-SHA1(secret + "&", method & "%2F" &
/// encode(the sorted, encoded `k=v&…` query))).
pub fn aliyun_signature(method: &str, params: &BTreeMap<&str, String>, secret: &str) -> String {
    let query: Vec<String> = params.iter().filter(|(k, _)| **k != "Signature").map(|(k, v)| format!("{}={}", pop_encode(k), pop_encode(v))).collect();
    let to_sign = format!("{method}&{}&{}", pop_encode("/"), pop_encode(&query.join("&")));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("HMAC takes any key");
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The `Authorization` header of a TC3-HMAC-SHA256 request (a POST to `/` with the headers
/// `content-type` and `host` signed).
pub fn tc3_authorization(secret_id: &str, secret_key: &str, service: &str, host: &str, content_type: &str, payload: &[u8], now: i64) -> String {
    let date = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().format("%Y-%m-%d").to_string();
    let canonical = format!("POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{}", hex::encode(Sha256::digest(payload)));
    let scope = format!("{date}/{service}/tc3_request");
    let to_sign = format!("TC3-HMAC-SHA256\n{now}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
    let k_date = hmac256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac256(&k_date, service.as_bytes());
    let k_signing = hmac256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac256(&k_signing, to_sign.as_bytes()));
    format!("TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}")
}

/// `X-Qcall-Signature` of a webhook: hex HMAC-SHA256 of "{timestamp}.{body}".
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut data = format!("{timestamp}.").into_bytes();
    data.extend_from_slice(body);
    hex::encode(hmac256(secret.as_bytes(), &data))
}

/// A phone number as logs and screens show it: 138****1234.
pub fn mask(phone: &str) -> String {
    crate::domain::appointments::mask_phone(phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alibaba Cloud's published example of a signed SendSms request (AccessKey testId /
    /// testSecret, 2017-07-12T02:42:19Z): its signature is zJDF+Lrzhj/ThnlvIToysFRq6t4=.
    #[test]
    fn aliyun_signs_as_the_published_example() {
        let params: BTreeMap<&str, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        assert_eq!(aliyun_signature("GET", &params, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert_eq!(pop_encode("zJDF+Lrzhj/ThnlvIToysFRq6t4="), "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D");
    }

    /// Tencent Cloud's published TC3-HMAC-SHA256 example (cvm DescribeInstances, 1551113065).
    #[test]
    fn tencent_signs_as_the_published_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let auth = tc3_authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "cvm",
            "cvm.tencentcloudapi.com",
            "application/json; charset=utf-8",
            payload.as_bytes(),
            1_551_113_065,
        );
        assert_eq!(
            auth,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn answers_are_read_as_each_provider_documents_them() {
        let s = |provider| Settings { provider, sign_name: "某税务局".into(), templates: BTreeMap::new() };
        let ali = s(Provider::Aliyun { endpoint: "https://dysmsapi.aliyuncs.com/".into(), access_key_id: "a".into(), access_key_secret: "b".into(), region: "cn-hangzhou".into() });
        assert_eq!(ali.accepted(200, br#"{"Code":"OK","Message":"OK","BizId":"1","RequestId":"r"}"#), Ok(()));
        assert_eq!(ali.accepted(200, br#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched"}"#).unwrap_err().code, "SignatureDoesNotMatch");
        let tc = s(Provider::Tencent { endpoint: "https://sms.tencentcloudapi.com".into(), secret_id: "a".into(), secret_key: "b".into(), sdk_app_id: "1400000000".into(), region: "ap-guangzhou".into() });
        assert_eq!(tc.accepted(200, br#"{"Response":{"SendStatusSet":[{"Code":"Ok","Message":"send success"}],"RequestId":"r"}}"#), Ok(()));
        assert_eq!(tc.accepted(200, br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r"}}"#).unwrap_err().code, "AuthFailure.SignatureFailure");
        let hook = s(Provider::Webhook { url: "http://x/".into(), secret: "s".into() });
        assert_eq!(hook.accepted(204, b""), Ok(()));
        assert!(hook.accepted(401, b"").is_err());
    }
}
