//! The call log through the real HTTP client, fed by real call events published on the
//! events topic (tansu or the in-process bus): answered and abandoned calls, filters and
//! cursor paging, redelivered and out-of-order events, events of a tenant that does not
//! exist, tenant isolation, roles, and query validation.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hotline_bus::Publisher;
use hotline_core::events::payload::{
    AgentReserved, AgentStateChanged, CallConnected, CallEnded, CallHeld, CallOffered, CallQueued,
    CallResumed, IvrAction, IvrPathChosen, QueuePositionChanged, RecordingStored, SurveyAnswered,
};
use hotline_core::{
    AgentId, AgentState, CallId, Disposition, Event, Party, Payload, QueueId, TenantId,
};
use hotline_tests::TestBackends;
use hotline_tests::api::{ADMIN, Api};
use hotline_tests::both;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// 2026-01-15T10:00:00Z: every call of these tests happens shortly after it.
const T0: u64 = 1_768_471_200;

/// How long the projection may take to show an event (a Kafka group join included).
const PATIENCE: Duration = Duration::from_secs(60);

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn q(id: &str) -> QueueId {
    QueueId::new(id).expect("valid queue id")
}

fn a(id: &str) -> AgentId {
    AgentId::new(id).expect("valid agent id")
}

fn publisher(b: &TestBackends) -> Publisher {
    Publisher::new(b.backends.bus.clone(), b.backends.topics.events.clone())
}

/// Publishes one event of `call` (or of no call) at `T0 + secs`; returns it for replays.
async fn publish(
    p: &Publisher,
    tenant: &str,
    call: Option<&str>,
    secs: u64,
    payload: impl Into<Payload>,
) -> anyhow::Result<Event> {
    let event = Event::at(
        TenantId::new(tenant)?,
        call.map(CallId::new).transpose()?,
        payload.into(),
        t(secs),
    );
    p.publish(&event).await?;
    Ok(event)
}

fn offered(caller: &str) -> CallOffered {
    CallOffered {
        caller: caller.to_owned(),
        did: "+18005550100".to_owned(),
        entry_flow_id: "main".to_owned(),
        sip_call_id: "abc@ingress".to_owned(),
        ..CallOffered::default()
    }
}

fn ivr(path: &[&str], queue: &str) -> IvrPathChosen {
    IvrPathChosen {
        menu_id: "main".to_owned(),
        path: path.iter().map(|p| (*p).to_owned()).collect(),
        action: IvrAction::Queue(q(queue)),
    }
}

fn queued(queue: &str) -> CallQueued {
    CallQueued {
        queue_id: q(queue),
        priority: 0,
        position: 1,
        expected_wait_seconds: 20,
        preferred_agent_id: None,
        required_skills: vec![],
        vip: false,
    }
}

fn connected(queue: &str, agent: &str, wait: u32) -> CallConnected {
    CallConnected {
        queue_id: q(queue),
        agent_id: a(agent),
        reservation_id: format!("res-{agent}"),
        wait_seconds: wait,
        recorded: true,
    }
}

fn ended(
    disposition: Disposition,
    queue: Option<&str>,
    agent: Option<&str>,
    wait: u32,
    talk: u32,
) -> CallEnded {
    CallEnded {
        hung_up_by: Some(Party::Caller),
        queue_id: queue.map(q),
        agent_id: agent.map(a),
        wait_seconds: wait,
        talk_seconds: talk,
        ..CallEnded::new(disposition)
    }
}

fn survey() -> SurveyAnswered {
    SurveyAnswered {
        survey_id: "csat".to_owned(),
        question_id: "q1".to_owned(),
        score: 5,
        agent_id: None,
    }
}

async fn get(api: &Api, key: &str, path: &str) -> anyhow::Result<(StatusCode, Value)> {
    api.call(Method::GET, path, Some(key), None).await
}

/// Polls `GET path` until `done` holds for its 200 body; fails after [`PATIENCE`].
async fn eventually(
    api: &Api,
    key: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) = get(api, key, path).await?;
        if status == StatusCode::OK && done(&body) {
            return Ok(body);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "GET {path} did not get there within {PATIENCE:?}; last answer {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn calls(list: &Value) -> &[Value] {
    list["calls"].as_array().map_or(&[], Vec::as_slice)
}

fn ids(list: &Value) -> Vec<&str> {
    calls(list)
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect()
}

fn event_types(call: &Value) -> Vec<&str> {
    call["events"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect()
}

/// A call's summary: its view without the events.
fn summary(call: &Value) -> Value {
    let mut v = call.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("events");
    }
    v
}

/// A key of another role for the tenant whose admin key is `admin`.
async fn key_with_role(api: &Api, admin: &str, role: &str) -> anyhow::Result<String> {
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(admin),
            Some(json!({ "role": role })),
        )
        .await?;
    anyhow::ensure!(s == StatusCode::CREATED, "create {role} key: {s} {v}");
    Ok(v["api_key"].as_str().unwrap_or_default().to_owned())
}

both!(answered_and_abandoned_calls_are_logged_with_their_events);
async fn answered_and_abandoned_calls_are_logged_with_their_events(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let p = publisher(b);

    // An agent event carries no call: the log ignores it and goes on.
    publish(
        &p,
        &tenant,
        None,
        0,
        AgentStateChanged {
            agent_id: a("anna"),
            from: AgentState::LoggedOut,
            to: AgentState::Available,
            reason: String::new(),
            queue_id: None,
        },
    )
    .await?;

    let answered = Some("call-answered");
    publish(&p, &tenant, answered, 0, offered("+15550100")).await?;
    publish(&p, &tenant, answered, 5, ivr(&["2"], "support")).await?;
    publish(&p, &tenant, answered, 6, queued("support")).await?;
    publish(
        &p,
        &tenant,
        answered,
        20,
        AgentReserved {
            queue_id: q("support"),
            agent_id: a("anna"),
            reservation_id: "res-anna".to_owned(),
            fencing_token: 7,
            ring_timeout_seconds: 15,
            targets: vec!["sip:anna@acme".to_owned()],
        },
    )
    .await?;
    publish(&p, &tenant, answered, 24, connected("support", "anna", 18)).await?;
    publish(
        &p,
        &tenant,
        answered,
        60,
        CallHeld {
            agent_id: a("anna"),
            by: Party::Agent,
        },
    )
    .await?;
    publish(
        &p,
        &tenant,
        answered,
        70,
        CallResumed {
            agent_id: a("anna"),
            by: Party::Agent,
            held_seconds: 10,
        },
    )
    .await?;
    publish(
        &p,
        &tenant,
        answered,
        144,
        ended(
            Disposition::Answered,
            Some("support"),
            Some("anna"),
            18,
            120,
        ),
    )
    .await?;
    publish(
        &p,
        &tenant,
        answered,
        150,
        RecordingStored {
            recording_id: "rec-1".to_owned(),
            object_key: format!("{tenant}/rec-1.wav"),
            duration_seconds: 120,
            size_bytes: 1_920_044,
            content_type: "audio/wav".to_owned(),
        },
    )
    .await?;

    let abandoned = Some("call-abandoned");
    publish(&p, &tenant, abandoned, 100, offered("+15550199")).await?;
    publish(&p, &tenant, abandoned, 101, queued("support")).await?;
    publish(
        &p,
        &tenant,
        abandoned,
        111,
        QueuePositionChanged {
            queue_id: q("support"),
            position: 1,
            expected_wait_seconds: 5,
        },
    )
    .await?;
    publish(
        &p,
        &tenant,
        abandoned,
        131,
        ended(Disposition::AbandonedInQueue, Some("support"), None, 30, 0),
    )
    .await?;

    let one = eventually(&api, &key, "/v1/calls/call-answered", |c| {
        event_types(c).len() == 9
    })
    .await?;
    let list = eventually(&api, &key, "/v1/calls", |l| {
        calls(l).len() == 2 && calls(l).iter().all(|c| !c["ended_at"].is_null())
    })
    .await?;

    // Newest first, every field as the issue names it, times in RFC 3339 UTC.
    assert_eq!(ids(&list), ["call-abandoned", "call-answered"], "{list}");
    assert_eq!(
        calls(&list)[1],
        json!({
            "id": "call-answered",
            "from": "+15550100",
            "to": "+18005550100",
            "started_at": "2026-01-15T10:00:00Z",
            "answered_at": "2026-01-15T10:00:24Z",
            "ended_at": "2026-01-15T10:02:24Z",
            "disposition": "answered",
            "ivr_path": ["2"],
            "queue": "support",
            "agent": "anna",
            "wait_seconds": 18,
            "talk_seconds": 120,
        })
    );
    assert_eq!(
        calls(&list)[0],
        json!({
            "id": "call-abandoned",
            "from": "+15550199",
            "to": "+18005550100",
            "started_at": "2026-01-15T10:01:40Z",
            "answered_at": null,
            "ended_at": "2026-01-15T10:02:11Z",
            "disposition": "abandoned_in_queue",
            "ivr_path": [],
            "queue": "support",
            "agent": null,
            "wait_seconds": 30,
            "talk_seconds": 0,
        })
    );
    assert_eq!(list["next"], Value::Null);

    // One call: the same summary, plus every event in time order with its fields.
    assert_eq!(summary(&one), calls(&list)[1]);
    assert_eq!(
        event_types(&one),
        [
            "CallOffered",
            "IvrPathChosen",
            "CallQueued",
            "AgentReserved",
            "CallConnected",
            "CallHeld",
            "CallResumed",
            "CallEnded",
            "RecordingStored",
        ]
    );
    let events = one["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events[0]["at"], "2026-01-15T10:00:00Z");
    assert_eq!(events[0]["caller"], "+15550100");
    assert_eq!(events[0]["sip_call_id"], "abc@ingress");
    assert_eq!(events[1]["path"], json!(["2"]));
    assert_eq!(events[1]["action"], json!({ "queue": "support" }));
    assert_eq!(events[3]["fencing_token"], 7);
    assert_eq!(events[5]["by"], "agent");
    assert_eq!(events[7]["disposition"], "answered");
    assert_eq!(events[7]["hung_up_by"], "caller");
    assert_eq!(events[7]["at"], "2026-01-15T10:02:24Z");
    assert_eq!(events[8]["object_key"], format!("{tenant}/rec-1.wav"));
    assert!(
        events.iter().all(|e| e["id"].as_str().is_some()),
        "{events:?}"
    );

    // Every role of the tenant reads the log; nobody else does.
    for role in ["supervisor", "agent", "readonly"] {
        let k = key_with_role(&api, &key, role).await?;
        let (s, v) = get(&api, &k, "/v1/calls").await?;
        assert_eq!(s, StatusCode::OK, "{role}: {v}");
        assert_eq!(ids(&v), ids(&list), "{role}");
        let (s, _) = get(&api, &k, "/v1/calls/call-answered").await?;
        assert_eq!(s, StatusCode::OK, "{role}");
    }
    let (s, _) = api.call(Method::GET, "/v1/calls", None, None).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get(&api, "not-a-key", "/v1/calls").await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get(&api, ADMIN, "/v1/calls").await?;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Unknown and impossible ids are 404.
    for path in [
        "/v1/calls/no-such-call",
        "/v1/calls/bad%20id",
        "/v1/calls/...",
    ] {
        let (s, v) = get(&api, &key, path).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert_eq!(v["error"]["code"], "not_found", "{path}");
    }
    api.stop().await
}

both!(filters_and_cursor_paging);
async fn filters_and_cursor_paging(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let p = publisher(b);
    // (id, start, queue, agent, disposition); two calls share a start time.
    let plan = [
        ("c1", 0, "sales", Some("anna"), Disposition::Answered),
        ("c2", 60, "support", None, Disposition::AbandonedInQueue),
        ("c3", 120, "sales", Some("boris"), Disposition::Answered),
        ("c4", 180, "support", None, Disposition::Voicemail),
        ("c5", 240, "support", Some("anna"), Disposition::Answered),
        ("tie-a", 300, "sales", None, Disposition::ShortAbandon),
        ("tie-b", 300, "sales", None, Disposition::ShortAbandon),
    ];
    for (id, start, queue, agent, disposition) in plan {
        publish(&p, &tenant, Some(id), start, offered("+15550100")).await?;
        publish(
            &p,
            &tenant,
            Some(id),
            start + 30,
            ended(disposition, Some(queue), agent, 10, 20),
        )
        .await?;
    }
    let all = eventually(&api, &key, "/v1/calls", |l| {
        calls(l).len() == plan.len() && calls(l).iter().all(|c| !c["ended_at"].is_null())
    })
    .await?;
    // Newest first; equal start times by id, descending.
    assert_eq!(
        ids(&all),
        ["tie-b", "tie-a", "c5", "c4", "c3", "c2", "c1"],
        "{all}"
    );

    for (query, expected) in [
        ("queue=sales", &["tie-b", "tie-a", "c3", "c1"][..]),
        ("agent=anna", &["c5", "c1"][..]),
        ("disposition=answered", &["c5", "c3", "c1"][..]),
        ("disposition=abandoned_in_queue", &["c2"][..]),
        ("disposition=failed", &[][..]),
        ("queue=sales&disposition=answered", &["c3", "c1"][..]),
        ("queue=nobody", &[][..]),
        (
            "since=2026-01-15T10:02:00Z",
            &["tie-b", "tie-a", "c5", "c4", "c3"][..],
        ),
        // The same instant with an offset ('+' percent-encoded, as it must be).
        ("since=2026-01-15T13:02:00%2B03:00&agent=anna", &["c5"][..]),
        ("since=2026-01-15T10:05:00.000001Z", &[][..]),
        ("limit=3", &["tie-b", "tie-a", "c5"][..]),
    ] {
        let (s, v) = get(&api, &key, &format!("/v1/calls?{query}")).await?;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        assert_eq!(ids(&v), expected, "{query}");
    }

    // Walking the pages with `before` visits every call once, in order, with one per page
    // splitting the tie; a short page has no `next`.
    for (limit, filter) in [(1, ""), (2, ""), (3, ""), (1, "&disposition=answered")] {
        let mut seen = Vec::new();
        let mut before: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &before {
                Some(c) => format!("/v1/calls?limit={limit}{filter}&before={c}"),
                None => format!("/v1/calls?limit={limit}{filter}"),
            };
            let (s, v) = get(&api, &key, &path).await?;
            assert_eq!(s, StatusCode::OK, "{path}: {v}");
            assert!(calls(&v).len() <= limit, "{path}: {v}");
            seen.extend(ids(&v).into_iter().map(str::to_owned));
            pages += 1;
            assert!(pages <= 10, "paging does not end: {path}");
            match v["next"].as_str() {
                Some(next) => {
                    assert_eq!(calls(&v).len(), limit, "only full pages have a next: {v}");
                    before = Some(next.to_owned());
                }
                None => break,
            }
        }
        let expected: Vec<&str> = if filter.is_empty() {
            ids(&all)
        } else {
            vec!["c5", "c3", "c1"]
        };
        assert_eq!(seen, expected, "limit {limit}{filter}");
    }
    api.stop().await
}

both!(redelivered_and_out_of_order_events_give_the_same_record);
async fn redelivered_and_out_of_order_events_give_the_same_record(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let p = publisher(b);
    let call = Some("late");

    // Backwards: the end first, the offer last. The connect names the queue and agent
    // the call had before a transfer; the end's (later) values must win.
    let end = publish(
        &p,
        &tenant,
        call,
        144,
        ended(
            Disposition::Answered,
            Some("support"),
            Some("anna"),
            18,
            120,
        ),
    )
    .await?;
    let connect = publish(&p, &tenant, call, 24, connected("sales", "boris", 5)).await?;
    publish(&p, &tenant, call, 6, queued("sales")).await?;
    publish(&p, &tenant, call, 5, ivr(&["1", "3"], "sales")).await?;
    let offer = publish(&p, &tenant, call, 0, offered("+15550100")).await?;

    let first = eventually(&api, &key, "/v1/calls/late", |c| event_types(c).len() == 5).await?;
    let expected = json!({
        "id": "late",
        "from": "+15550100",
        "to": "+18005550100",
        "started_at": "2026-01-15T10:00:00Z",
        "answered_at": "2026-01-15T10:00:24Z",
        "ended_at": "2026-01-15T10:02:24Z",
        "disposition": "answered",
        "ivr_path": ["1", "3"],
        "queue": "support",
        "agent": "anna",
        "wait_seconds": 18,
        "talk_seconds": 120,
    });
    assert_eq!(summary(&first), expected);
    // Events are shown in the order they happened, not the order they came.
    assert_eq!(
        event_types(&first),
        [
            "CallOffered",
            "IvrPathChosen",
            "CallQueued",
            "CallConnected",
            "CallEnded"
        ]
    );

    // The same events again (a redelivery after a crash), then a new one on the same
    // call, so that once it shows the redeliveries before it were handled too.
    for again in [&connect, &offer, &end, &connect] {
        p.publish(again).await?;
    }
    publish(&p, &tenant, call, 200, survey()).await?;
    let after = eventually(&api, &key, "/v1/calls/late", |c| {
        event_types(c).contains(&"SurveyAnswered")
    })
    .await?;
    assert_eq!(summary(&after), expected);
    assert_eq!(event_types(&after).len(), 6, "{after}");
    let mut event_ids: Vec<&str> = after["events"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    assert_eq!(event_ids.len(), 6);

    // A call whose only event so far is its end is listed (at the end's time) and
    // corrected when the offer comes.
    publish(
        &p,
        &tenant,
        Some("end-first"),
        400,
        ended(Disposition::AbandonedInIvr, None, None, 0, 0),
    )
    .await?;
    let early = eventually(&api, &key, "/v1/calls/end-first", |_| true).await?;
    assert_eq!(early["started_at"], "2026-01-15T10:06:40Z");
    assert_eq!(early["disposition"], "abandoned_in_ivr");
    assert_eq!(early["from"], Value::Null);
    publish(&p, &tenant, Some("end-first"), 390, offered("+15550111")).await?;
    let fixed = eventually(&api, &key, "/v1/calls/end-first", |c| {
        event_types(c).len() == 2
    })
    .await?;
    assert_eq!(fixed["started_at"], "2026-01-15T10:06:30Z");
    assert_eq!(fixed["ended_at"], "2026-01-15T10:06:40Z");
    assert_eq!(fixed["from"], "+15550111");
    assert_eq!(fixed["disposition"], "abandoned_in_ivr");
    api.stop().await
}

both!(events_of_an_unknown_tenant_do_not_block_the_log);
async fn events_of_an_unknown_tenant_do_not_block_the_log(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let p = publisher(b);
    // Same call id, so the same bus key and partition: the ghost's event comes first.
    let ghost = format!("ghost-{}", hotline_tests::unique());
    publish(&p, &ghost, Some("shared"), 0, offered("+15550100")).await?;
    publish(&p, &tenant, Some("shared"), 0, offered("+15550101")).await?;
    let v = eventually(&api, &key, "/v1/calls", |l| calls(l).len() == 1).await?;
    assert_eq!(calls(&v)[0]["from"], "+15550101");
    api.stop().await
}

both!(tenants_see_only_their_own_calls);
async fn tenants_see_only_their_own_calls(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant_a, key_a) = api.tenant("Acme").await?;
    let (tenant_b, key_b) = api.tenant("Bravo").await?;
    let (_, key_c) = api.tenant("Charlie").await?;
    let p = publisher(b);

    // Both tenants have a call with the same id; only A has "only-a".
    publish(&p, &tenant_a, Some("same-id"), 0, offered("+15550100")).await?;
    publish(
        &p,
        &tenant_a,
        Some("same-id"),
        60,
        ended(Disposition::Answered, Some("sales-a"), Some("anna"), 5, 50),
    )
    .await?;
    publish(&p, &tenant_a, Some("only-a"), 100, offered("+15550101")).await?;
    publish(&p, &tenant_b, Some("same-id"), 10, offered("+15550200")).await?;

    let list_a = eventually(&api, &key_a, "/v1/calls", |l| {
        calls(l).len() == 2 && calls(l).iter().all(|c| !c["from"].is_null())
    })
    .await?;
    let list_b = eventually(&api, &key_b, "/v1/calls", |l| calls(l).len() == 1).await?;
    let a_same = eventually(&api, &key_a, "/v1/calls/same-id", |c| {
        !c["ended_at"].is_null()
    })
    .await?;

    assert_eq!(ids(&list_a), ["only-a", "same-id"]);
    assert_eq!(ids(&list_b), ["same-id"]);
    assert_eq!(calls(&list_b)[0]["from"], "+15550200");
    assert_eq!(calls(&list_b)[0]["ended_at"], Value::Null);
    assert_eq!(a_same["from"], "+15550100");
    assert_eq!(event_types(&a_same), ["CallOffered", "CallEnded"]);

    // B's view of the shared id is B's call alone; A's other call does not exist for B
    // or C, and A's queue and agent find nothing for them.
    let (s, b_same) = get(&api, &key_b, "/v1/calls/same-id").await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b_same["from"], "+15550200");
    assert_eq!(event_types(&b_same), ["CallOffered"]);
    for key in [&key_b, &key_c] {
        let (s, v) = get(&api, key, "/v1/calls/only-a").await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error"]["code"], "not_found");
        for query in ["queue=sales-a", "agent=anna", "disposition=answered"] {
            let (s, v) = get(&api, key, &format!("/v1/calls?{query}")).await?;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(ids(&v), Vec::<&str>::new(), "{query}");
        }
    }
    let (s, v) = get(&api, &key_c, "/v1/calls").await?;
    assert_eq!((s, ids(&v)), (StatusCode::OK, vec![]));
    let (s, _) = get(&api, &key_c, "/v1/calls/same-id").await?;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A cursor made from A's listing reveals nothing of A to B.
    let (_, page) = get(&api, &key_a, "/v1/calls?limit=1").await?;
    let cursor = page["next"].as_str().unwrap_or_default().to_owned();
    assert!(!cursor.is_empty(), "{page}");
    let (s, v) = get(&api, &key_b, &format!("/v1/calls?before={cursor}")).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&v), ["same-id"]);
    assert_eq!(calls(&v)[0]["from"], "+15550200");
    api.stop().await
}

both!(bad_query_parameters_are_422_naming_the_field);
async fn bad_query_parameters_are_422_naming_the_field(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    for (query, field, rule) in [
        ("limit=0", "limit", "range"),
        ("limit=1001", "limit", "range"),
        ("limit=abc", "limit", "format"),
        ("limit=", "limit", "format"),
        ("limit=99999999999", "limit", "format"),
        ("since=yesterday", "since", "format"),
        ("since=2026-01-15", "since", "format"),
        ("since=2026-02-30T00:00:00Z", "since", "format"),
        ("since=2026-01-15T10:00:00", "since", "format"),
        ("disposition=hung_up", "disposition", "enum"),
        ("disposition=", "disposition", "enum"),
        ("queue=", "queue", "format"),
        ("queue=a%20b", "queue", "format"),
        ("queue=%2E%2E", "queue", "format"),
        ("agent=%C3%A9", "agent", "format"),
        (
            "agent=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "agent",
            "format",
        ),
        ("before=xyz", "before", "format"),
        ("before=6869", "before", "format"),
        ("after=abc", "after", "unknown"),
        ("limit=1&limit=2", "limit", "unique"),
    ] {
        let (s, v) = get(&api, &key, &format!("/v1/calls?{query}")).await?;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert_eq!(v["error"]["code"], "validation_failed", "{query}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{query}: {v}");
        assert_eq!(v["error"]["fields"][0]["rule"], rule, "{query}: {v}");
    }
    // The bounds themselves are fine.
    for query in ["limit=1", "limit=1000", "since=1970-01-01T00:00:00Z"] {
        let (s, v) = get(&api, &key, &format!("/v1/calls?{query}")).await?;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
    }
    api.stop().await
}
