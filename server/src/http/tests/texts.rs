//! Text messages about tickets: a number left on the ticket page, proven by a code; the
//! near-turn and called messages put in the outbox with the events that made them due, once
//! each; the numbers gone with the day.

use super::*;

/// The outbox's rows for `ticket`: (kind, phone, params).
fn outbox(r: &Rig, ticket: u64) -> Vec<(String, Option<String>, String)> {
    r.db(|db| {
        let rows = db.query("SELECT kind, phone, params FROM sms_outbox WHERE ticket = ?1 ORDER BY id", crate::vals![ticket]).unwrap();
        rows.iter().map(|row| (row.get(0).unwrap(), row.get(1).unwrap(), row.get(2).unwrap())).collect()
    })
}

/// Every stored phone number of tickets: the phone table's and the outbox's.
fn stored_numbers(r: &Rig) -> i64 {
    r.db(|db| {
        let count = |db: &mut crate::store::Db, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0).unwrap() };
        count(db, "SELECT COUNT(*) FROM ticket_phones") + count(db, "SELECT COUNT(*) FROM sms_outbox WHERE phone IS NOT NULL")
    })
}

#[tokio::test]
async fn a_number_left_for_a_ticket_gets_one_near_turn_and_one_called_message_and_is_gone_with_the_day() {
    let r = Rig::new();
    let mut tickets = Vec::new();
    for _ in 0..7 {
        tickets.push(r.issue("central", "consulting").await);
    }
    let mine = tickets[6].id;
    let phone = "13812341234";
    let path = format!("/api/v1/tickets/{mine}/phone");

    // Refusals, each with its code; none of them stores anything.
    let a = r.send("POST", &path, None, Some(json!({"phone": phone, "phone_code": ""}))).await;
    assert_eq!(a.code(), Some(ErrorCode::PhoneCodeRequired));
    let a = r.send("POST", &path, None, Some(json!({"phone": "12345", "phone_code": "123456"}))).await;
    assert_eq!(a.code(), Some(ErrorCode::InvalidPhone));
    let code = r.phone_code(phone).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let a = r.send("POST", &path, None, Some(json!({"phone": phone, "phone_code": wrong}))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongPhoneCode));
    let a = r.send("POST", "/api/v1/tickets/999999/phone", None, Some(json!({"phone": phone, "phone_code": code}))).await;
    assert_eq!(a.code(), Some(ErrorCode::UnknownTicket));
    assert_eq!(stored_numbers(&r), 0);

    // With the code (still good after the refusals above: they gave it back).
    let v = r.ok("POST", &path, None, Some(json!({"phone": phone, "phone_code": code}))).await;
    assert_eq!(v, json!({"ticket": mine, "phone": "138****1234"}));
    let page = r.send("GET", &format!("/t/{mine}"), None, None).await.text();
    assert!(page.contains("短信提醒已开启（尾号 1234）") && !page.contains("138****") && !page.contains("13812341234"), "{page}");
    assert!(outbox(&r, mine).is_empty(), "six ahead and no counter open: nothing yet");

    // A counter opens and serves: once three or fewer are ahead (or the wait is short), one
    // near-turn message; called, one called message naming the window.
    let clerk = r.sign_in("clerk16", "C01").await;
    let mut near_at = None;
    for (i, t) in tickets.iter().enumerate().take(6) {
        let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
        assert_eq!(v["ticket"]["id"].as_u64(), Some(t.id));
        let rows = outbox(&r, mine);
        if near_at.is_none() && !rows.is_empty() {
            near_at = Some(i);
        }
        assert!(rows.len() <= 1 && rows.iter().all(|(k, _, _)| k == "near_turn"), "{rows:?}");
        r.ok("POST", "/api/v1/counters/C01/finish", Some(&clerk), None).await;
        r.clock.advance(60_000);
    }
    let near_at = near_at.expect("a near-turn message");
    let rows = outbox(&r, mine);
    let params: Value = serde_json::from_str(&rows[0].2).unwrap();
    assert!(params["ahead"].as_str().unwrap().parse::<u32>().unwrap() <= 3, "{params}");
    assert_eq!(params["number"], json!(tickets[6].number));
    assert_eq!(rows[0].1.as_deref(), Some(phone));
    assert!(near_at <= 3, "at most three ahead once the first ones are called: {near_at}");
    let v = r.ok("POST", "/api/v1/counters/C01/call-next", Some(&clerk), None).await;
    assert_eq!(v["ticket"]["id"].as_u64(), Some(mine));
    let rows = outbox(&r, mine);
    assert_eq!(rows.iter().map(|(k, _, _)| k.as_str()).collect::<Vec<_>>(), ["near_turn", "called"]);
    let called: Value = serde_json::from_str(&rows[1].2).unwrap();
    assert_eq!(called["counter"], json!("1"));
    // Recalled: still one called message.
    r.ok("POST", "/api/v1/counters/C01/recall", Some(&clerk), None).await;
    assert_eq!(outbox(&r, mine).len(), 2);
    // The sender finds both due, oldest first; once one is sent, only the other.
    let now = crate::clock::Clock::now(&*r.clock);
    let due = |r: &Rig| r.db(move |db| crate::queries::texts_due(db, now, 20).unwrap());
    let first = due(&r);
    assert_eq!(first.iter().map(|d| (d.ticket, d.kind.as_str(), d.phone.as_str())).collect::<Vec<_>>(), [(mine, "near_turn", phone), (mine, "called", phone)]);
    let sent = crate::store::NoticeUpdate::Sent { id: first[0].id, at: now };
    r.app.state.engine.submit(crate::engine::Request::Notice(sent)).await.unwrap();
    assert_eq!(due(&r).iter().map(|d| d.id).collect::<Vec<_>>(), [first[1].id]);
    // Not for a ticket that is no longer waiting.
    let code = r.phone_code("13912345678").await;
    let a = r.send("POST", &path, None, Some(json!({"phone": "13912345678", "phone_code": code}))).await;
    assert_eq!(a.code(), Some(ErrorCode::WrongTicketState));

    // The next business day: no table holds a number of the day before.
    assert!(stored_numbers(&r) > 0);
    r.clock.advance(24 * 3_600_000);
    r.issue("central", "consulting").await;
    assert_eq!(stored_numbers(&r), 0, "the numbers went with the day");
    assert_eq!(outbox(&r, mine).len(), 2, "what was sent stays counted, without the number");
}
