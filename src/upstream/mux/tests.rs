use super::*;
use crate::protocol::jsonrpc::parse_message;
use serde_json::{Value, json};

/// The far end of an in-memory link: what the mux wrote, and a way to answer.
struct Peer {
    written: mpsc::Receiver<Bytes>,
    inject: mpsc::Sender<Frame>,
}

impl Peer {
    async fn read(&mut self) -> Value {
        let line = self.written.recv().await.expect("the mux wrote a line");
        assert!(!line.contains(&b'\n'), "one line per message");
        serde_json::from_slice(&line).unwrap()
    }

    /// Returns once the mux has routed everything sent before (it answers pings itself).
    async fn sync(&mut self) {
        self.send(r#"{"jsonrpc":"2.0","id":"sync","method":"ping"}"#)
            .await;
        assert_eq!(self.read().await["id"], "sync");
    }

    async fn send(&self, raw: &str) {
        let frame = Frame::new(Bytes::copy_from_slice(raw.as_bytes()), message_raw(raw));
        self.inject.send(frame).await.unwrap();
    }
}

fn message_raw(raw: &str) -> Message {
    parse_message(raw.as_bytes(), &ParseLimits::default()).unwrap()
}

fn message(value: Value) -> Message {
    message_raw(&value.to_string())
}

fn call(id: Value, name: &str) -> Message {
    message(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name}}))
}

fn link() -> (Link, Peer) {
    let (outgoing, written) = mpsc::channel(64);
    let (inject, incoming) = mpsc::channel(64);
    (Link { outgoing, incoming }, Peer { written, inject })
}

fn connected(limits: MuxLimits) -> (Mux, Peer) {
    let mux = Mux::new("up", limits);
    let (link, peer) = link();
    mux.attach(link);
    mux.open(Era::Legacy);
    (mux, peer)
}

const LONG: Duration = Duration::from_secs(30);

async fn final_json(exchange: Exchange) -> Value {
    let frame = exchange.response().await.unwrap();
    serde_json::from_slice(frame.raw()).unwrap()
}

#[tokio::test]
async fn requests_from_two_clients_with_the_same_id_never_cross() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let a = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let b = mux.request(&call(json!(1), "b"), LONG).await.unwrap();
    let (sa, sb) = (peer.read().await, peer.read().await);
    assert_ne!(sa["id"], sb["id"], "upstream ids are distinct");
    // Answered in reverse order.
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"from":"b"}}}}"#,
        sb["id"]
    ))
    .await;
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"from":"a"}}}}"#,
        sa["id"]
    ))
    .await;
    let (ra, rb) = (final_json(a).await, final_json(b).await);
    assert_eq!(
        (ra["id"].clone(), ra["result"]["from"].clone()),
        (json!(1), json!("a"))
    );
    assert_eq!(
        (rb["id"].clone(), rb["result"]["from"].clone()),
        (json!(1), json!("b"))
    );
    assert_eq!(mux.in_flight(), 0);
}

#[tokio::test]
async fn a_response_keeps_every_byte_but_the_restored_id() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let exchange = mux
        .request(&call(json!("client-7"), "t"), LONG)
        .await
        .unwrap();
    let sent = peer.read().await;
    let raw = format!(
        r#"{{ "result" : {{"z":1.50,"a":[]}}, "id":{} ,"jsonrpc":"2.0"}}"#,
        sent["id"]
    );
    peer.send(&raw).await;
    let frame = exchange.response().await.unwrap();
    let expected = r#"{ "result" : {"z":1.50,"a":[]}, "id":"client-7" ,"jsonrpc":"2.0"}"#;
    assert_eq!(&frame.raw()[..], expected.as_bytes());
    assert_eq!(
        frame.message().id(),
        Some(&crate::protocol::RequestId::String("client-7".into()))
    );
}

#[tokio::test]
async fn unknown_and_repeated_response_ids_are_dropped() {
    let (mux, mut peer) = connected(MuxLimits::default());
    peer.send(r#"{"jsonrpc":"2.0","id":999,"result":{}}"#).await;
    peer.send(r#"{"jsonrpc":"2.0","id":"str","result":{}}"#)
        .await;
    peer.send(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
        .await;
    peer.sync().await;
    assert_eq!(mux.dropped(), 3);
    let first = mux.request(&call(json!(5), "t"), LONG).await.unwrap();
    let id = peer.read().await["id"].clone();
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"n":1}}}}"#
    ))
    .await;
    assert_eq!(final_json(first).await["result"]["n"], 1);
    // The same id answered again, then a new request: the duplicate completes nothing.
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"n":2}}}}"#
    ))
    .await;
    let second = mux.request(&call(json!(5), "t"), LONG).await.unwrap();
    let id2 = peer.read().await["id"].clone();
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{id2},"result":{{"n":3}}}}"#
    ))
    .await;
    assert_eq!(final_json(second).await["result"]["n"], 3);
    assert_eq!(mux.dropped(), 4, "the repeated answer was dropped too");
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_deadline_times_out_frees_its_slot_and_is_cancelled_upstream() {
    let limits = MuxLimits {
        max_in_flight: 1,
        ..MuxLimits::default()
    };
    let (mux, mut peer) = connected(limits);
    let timeouts = mux.consecutive_timeouts();
    let mut slow = mux
        .request(&call(json!(1), "slow"), Duration::from_secs(2))
        .await
        .unwrap();
    let sent = peer.read().await;
    let busy = mux.request(&call(json!(2), "t"), LONG).await.unwrap_err();
    assert!(matches!(busy, MuxError::Busy { max: 1, .. }), "{busy}");
    let err = slow.next().await.unwrap().unwrap_err();
    assert!(matches!(err, MuxError::Timeout { .. }), "{err}");
    assert!(slow.next().await.is_none());
    let cancel = peer.read().await;
    assert_eq!(cancel["method"], "notifications/cancelled");
    assert_eq!(cancel["params"]["requestId"], sent["id"]);
    assert_eq!(*timeouts.borrow(), 1);
    // The late answer is dropped; the slot is free again.
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
        sent["id"]
    ))
    .await;
    let next = mux.request(&call(json!(3), "t"), LONG).await.unwrap();
    let id = peer.read().await["id"].clone();
    peer.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#))
        .await;
    assert_eq!(final_json(next).await["id"], 3);
    assert_eq!(*timeouts.borrow(), 0, "a response resets the count");
}

#[tokio::test]
async fn progress_reaches_its_own_request_with_the_clients_token() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let with_token = |id: i64| {
        message(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"t","_meta":{"progressToken":"tok"}}}))
    };
    let mut a = mux.request(&with_token(1), LONG).await.unwrap();
    let mut b = mux.request(&with_token(2), LONG).await.unwrap();
    let (sa, sb) = (peer.read().await, peer.read().await);
    let (ta, tb) = (
        &sa["params"]["_meta"]["progressToken"],
        &sb["params"]["_meta"]["progressToken"],
    );
    assert_ne!(ta, tb, "tokens from different clients are made distinct");
    for (token, progress) in [(tb, 7), (ta, 3)] {
        peer.send(&format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{progress}}}}}"#
        ))
        .await;
    }
    for (exchange, expected) in [(&mut a, 3), (&mut b, 7)] {
        let Some(Ok(Event::Notification(frame))) = exchange.next().await else {
            panic!("expected progress");
        };
        let v: Value = serde_json::from_slice(frame.raw()).unwrap();
        assert_eq!(v["params"]["progressToken"], "tok");
        assert_eq!(v["params"]["progress"], expected);
    }
}

#[tokio::test]
async fn a_server_request_during_a_single_request_is_attributed_and_answered_under_its_id() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let mut exchange = mux
        .request(&call(json!("c"), "sample"), LONG)
        .await
        .unwrap();
    let sent = peer.read().await;
    peer.send(r#"{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"maxTokens":5,"messages":[]}}"#)
        .await;
    let Some(Ok(Event::Request(request))) = exchange.next().await else {
        panic!("expected a server request");
    };
    assert_eq!(
        request.frame().message().method(),
        Some("sampling/createMessage")
    );
    // The client answers with whatever id it was shown; the server sees its own.
    let answer = message(json!({"jsonrpc":"2.0","id":77,"result":{"role":"assistant"}}));
    request.respond(&answer).await.unwrap();
    let reply = peer.read().await;
    assert_eq!(reply["id"], "srv-1");
    assert_eq!(reply["result"]["role"], "assistant");
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
        sent["id"]
    ))
    .await;
    assert!(matches!(
        exchange.next().await,
        Some(Ok(Event::Response(_)))
    ));
}

#[tokio::test]
async fn server_requests_are_refused_when_no_single_request_is_in_flight() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let req = r#"{"jsonrpc":"2.0","id":41,"method":"roots/list"}"#;
    peer.send(req).await;
    assert_eq!(peer.read().await["error"]["message"], "cannot route");
    let _a = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let _b = mux.request(&call(json!(2), "b"), LONG).await.unwrap();
    peer.read().await;
    peer.read().await;
    peer.send(req).await;
    let refused = peer.read().await;
    assert_eq!(refused["id"], 41);
    assert_eq!(refused["error"]["code"], -32603);
    assert_eq!(refused["error"]["message"], "cannot route");
}

#[tokio::test]
async fn server_pings_are_answered_by_the_mux_and_dropped_server_requests_are_rejected() {
    let (mux, mut peer) = connected(MuxLimits::default());
    peer.send(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
        .await;
    assert_eq!(
        peer.read().await,
        json!({"jsonrpc":"2.0","id":"p","result":{}})
    );
    let mut exchange = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    peer.read().await;
    peer.send(r#"{"jsonrpc":"2.0","id":9,"method":"elicitation/create","params":{}}"#)
        .await;
    let Some(Ok(Event::Request(request))) = exchange.next().await else {
        panic!("expected a server request");
    };
    drop(request);
    let reply = peer.read().await;
    assert_eq!(
        (reply["id"].clone(), reply["error"]["code"].clone()),
        (json!(9), json!(-32603))
    );
}

#[tokio::test]
async fn unscoped_notifications_are_broadcast_in_the_legacy_era() {
    let (mux, peer) = connected(MuxLimits::default());
    let mut all = mux.notifications();
    let _busy = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let raw = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    peer.send(raw).await;
    assert_eq!(&all.recv().await.unwrap().raw()[..], raw.as_bytes());
}

#[tokio::test]
async fn in_the_2026_era_notifications_go_to_the_single_request_in_flight_or_nowhere() {
    let (mux, mut peer) = connected(MuxLimits::default());
    mux.open(Era::Modern);
    let mut all = mux.notifications();
    let log = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
    peer.send(log).await; // nobody in flight: dropped
    peer.sync().await;
    let mut exchange = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let sent = peer.read().await;
    peer.send(log).await;
    let Some(Ok(Event::Notification(frame))) = exchange.next().await else {
        panic!("expected the log message");
    };
    assert_eq!(&frame.raw()[..], log.as_bytes());
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
        sent["id"]
    ))
    .await;
    assert!(matches!(
        exchange.next().await,
        Some(Ok(Event::Response(_)))
    ));
    assert!(all.try_recv().is_err(), "nothing was broadcast");
}

#[tokio::test]
async fn subscription_notifications_reach_their_listen_request_with_the_clients_id() {
    let (mux, mut peer) = connected(MuxLimits::default());
    mux.open(Era::Modern);
    let listen = message(
        json!({"jsonrpc":"2.0","id":"L","method":"subscriptions/listen",
        "params":{"notifications":{"toolsListChanged":true}}}),
    );
    let mut exchange = mux.request(&listen, LONG).await.unwrap();
    let sent = peer.read().await;
    peer.send(&format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{{"_meta":{{"io.modelcontextprotocol/subscriptionId":{}}}}}}}"#,
        sent["id"]
    ))
    .await;
    let Some(Ok(Event::Notification(frame))) = exchange.next().await else {
        panic!("expected the subscription notification");
    };
    let v: Value = serde_json::from_slice(frame.raw()).unwrap();
    assert_eq!(
        v["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "L"
    );
}

#[tokio::test]
async fn when_the_transport_dies_every_request_fails_at_once_and_a_new_link_can_be_attached() {
    let (mux, peer) = connected(MuxLimits::default());
    let a = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let b = mux.request(&call(json!(2), "b"), LONG).await.unwrap();
    drop(peer);
    for exchange in [a, b] {
        let err = exchange.response().await.unwrap_err();
        assert!(
            matches!(&err, MuxError::Disconnected { reason, .. } if reason.contains("closed")),
            "{err}"
        );
    }
    let err = mux.request(&call(json!(3), "c"), LONG).await.unwrap_err();
    assert!(matches!(err, MuxError::NotConnected { .. }), "{err}");
    let (link, mut peer) = link();
    mux.attach(link);
    mux.open(Era::Legacy);
    let c = mux.request(&call(json!(3), "c"), LONG).await.unwrap();
    let id = peer.read().await["id"].clone();
    peer.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#))
        .await;
    assert_eq!(final_json(c).await["id"], 3);
}

#[tokio::test]
async fn detaching_names_its_reason_and_ids_are_never_reused_across_connections() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let a = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let old = peer.read().await["id"].clone();
    mux.detach("the process exited with status 3");
    let err = a.response().await.unwrap_err();
    assert!(err.to_string().contains("status 3"), "{err}");
    let (link, mut fresh) = link();
    mux.attach(link);
    mux.open(Era::Legacy);
    let b = mux.request(&call(json!(1), "b"), LONG).await.unwrap();
    let new = fresh.read().await["id"].clone();
    assert_ne!(old, new);
    // An answer to the old id on the new connection completes nothing.
    fresh
        .send(&format!(r#"{{"jsonrpc":"2.0","id":{old},"result":{{}}}}"#))
        .await;
    fresh
        .send(&format!(
            r#"{{"jsonrpc":"2.0","id":{new},"result":{{"ok":true}}}}"#
        ))
        .await;
    assert_eq!(final_json(b).await["result"]["ok"], true);
}

#[tokio::test]
async fn dropping_an_exchange_cancels_it_upstream_and_frees_its_slot() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let exchange = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let sent = peer.read().await;
    drop(exchange);
    assert_eq!(mux.in_flight(), 0);
    let cancel = peer.read().await;
    assert_eq!(cancel["method"], "notifications/cancelled");
    assert_eq!(cancel["params"]["requestId"], sent["id"]);
}

#[tokio::test]
async fn notify_forwards_notifications_and_refuses_client_cancellations() {
    let (mux, mut peer) = connected(MuxLimits::default());
    let note = message(json!({"jsonrpc":"2.0","method":"notifications/roots/list_changed"}));
    mux.notify(&note).await.unwrap();
    assert_eq!(
        peer.read().await["method"],
        "notifications/roots/list_changed"
    );
    let cancel = message(
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}),
    );
    assert!(matches!(
        mux.notify(&cancel).await,
        Err(MuxError::Invalid(_))
    ));
    assert!(matches!(
        mux.request(&note, LONG).await,
        Err(MuxError::Invalid(_))
    ));
    assert!(matches!(
        mux.notify(&call(json!(1), "a")).await,
        Err(MuxError::Invalid(_))
    ));
}

#[tokio::test]
async fn requests_fail_fast_when_no_connection_is_attached() {
    let mux = Mux::new("idle", MuxLimits::default());
    let err = mux.request(&call(json!(1), "a"), LONG).await.unwrap_err();
    assert_eq!(err.to_string(), "upstream idle is not connected");
    assert!(!mux.is_open());
}

#[tokio::test]
async fn client_traffic_waits_for_the_handshake_but_setup_passes() {
    let mux = Mux::new("up", MuxLimits::default());
    let (link, mut peer) = link();
    mux.attach(link);
    let err = mux.request(&call(json!(1), "a"), LONG).await.unwrap_err();
    assert_eq!(err.to_string(), "upstream up is still starting");
    let note = message(json!({"jsonrpc":"2.0","method":"notifications/x"}));
    assert!(matches!(
        mux.notify(&note).await,
        Err(MuxError::Starting { .. })
    ));
    let init = message(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}));
    let exchange = mux.setup_request(&init, LONG).await.unwrap();
    let id = peer.read().await["id"].clone();
    peer.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#))
        .await;
    exchange.response().await.unwrap();
    mux.setup_notify(&note).await.unwrap();
    assert_eq!(peer.read().await["method"], "notifications/x");
    mux.open(Era::Legacy);
    assert!(mux.is_open());
    mux.request(&call(json!(1), "a"), LONG).await.unwrap();
}

#[tokio::test]
async fn a_full_event_queue_drops_progress_but_never_the_response() {
    let limits = MuxLimits {
        events_per_request: 2,
        ..MuxLimits::default()
    };
    let (mux, mut peer) = connected(limits);
    let with_token = message(json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"t","_meta":{"progressToken":1}}}));
    let mut exchange = mux.request(&with_token, LONG).await.unwrap();
    let id = peer.read().await["id"].clone();
    for n in 0..10 {
        peer.send(&format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{id},"progress":{n}}}}}"#
        ))
        .await;
    }
    peer.send(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#))
        .await;
    let mut progress = 0;
    loop {
        match exchange.next().await.unwrap().unwrap() {
            Event::Notification(_) => progress += 1,
            Event::Response(_) => break,
            Event::Request(_) => panic!("no server request was sent"),
        }
    }
    assert_eq!(progress, 2, "bounded by events_per_request");
}

#[tokio::test]
async fn attaching_a_new_link_fails_the_old_ones_requests_and_ignores_its_late_answers() {
    let (mux, mut old) = connected(MuxLimits::default());
    let a = mux.request(&call(json!(1), "a"), LONG).await.unwrap();
    let id = old.read().await["id"].clone();
    let (link, _fresh) = link();
    mux.attach(link);
    let err = a.response().await.unwrap_err();
    assert!(
        err.to_string().contains("replaced by a new connection"),
        "{err}"
    );
    // The old transport's reader is aborted (dropped at the scheduler's next
    // turn): its late answer goes nowhere.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let late = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#);
    let frame = Frame::new(Bytes::from(late.clone()), message_raw(&late));
    assert!(
        old.inject.send(frame).await.is_err(),
        "the old link was closed"
    );
}
