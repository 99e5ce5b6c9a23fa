use super::*;
use crate::federation::merge::ListKind;
use crate::protocol::jsonrpc::{ParseLimits, parse_message};
use serde_json::json;

struct Owners;
impl ResourceOwners for Owners {
    fn owner(&self, uri: &str) -> Option<usize> {
        uri.starts_with("file://").then_some(1)
    }
}

fn msg(v: Value) -> Message {
    parse_message(v.to_string().as_bytes(), &ParseLimits::default()).unwrap()
}

fn fed() -> Naming {
    Naming::new(vec![Some("gh".into()), Some("fs".into())], "__").unwrap()
}

#[test]
fn calls_go_to_the_prefix_owner_with_the_inner_name() {
    let m = msg(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fs__read"}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::One {
            upstream: 1,
            rewrite: Rewrite::Name("read".into())
        }
    );
    let m = msg(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read"}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::Unknown(Unroutable::Tool("read".into()))
    );
    let m = msg(json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"gh__p"}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::One {
            upstream: 0,
            rewrite: Rewrite::Name("p".into())
        }
    );
}

#[test]
fn resources_go_to_their_owner() {
    let m =
        msg(json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///x"}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::One {
            upstream: 1,
            rewrite: Rewrite::None
        }
    );
    let m =
        msg(json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"db://x"}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::Unknown(Unroutable::Resource("db://x".into()))
    );
    let m = msg(
        json!({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"fs__p"},"argument":{"name":"a","value":"b"}}}),
    );
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::One {
            upstream: 1,
            rewrite: Rewrite::Name("p".into())
        }
    );
}

#[test]
fn lists_and_handshakes_fan_out_and_ping_is_local() {
    let r = |method: &str| {
        route(
            &msg(json!({"jsonrpc":"2.0","id":1,"method":method})),
            &fed(),
            &Owners,
        )
    };
    assert_eq!(r("tools/list"), Route::All(FanOut::List(ListKind::Tools)));
    assert_eq!(r("initialize"), Route::All(FanOut::Initialize));
    assert_eq!(r("server/discover"), Route::All(FanOut::Discover));
    assert_eq!(r("ping"), Route::Local);
    assert_eq!(
        r("tasks/get"),
        Route::Unknown(Unroutable::Method("tasks/get".into()))
    );
    let n = msg(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    assert_eq!(route(&n, &fed(), &Owners), Route::All(FanOut::Notify));
}

#[test]
fn answers_to_server_requests_return_to_their_upstream() {
    let encoded = encode_id(1, &RequestId::Number(7));
    let m = msg(json!({"jsonrpc":"2.0","id":encoded,"result":{}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::One {
            upstream: 1,
            rewrite: Rewrite::Id(json!(7))
        }
    );
    let s = encode_id(0, &RequestId::String("pc1:x".into()));
    assert_eq!(
        decode_id(&RequestId::String(s.as_str().unwrap().into())),
        Some((0, json!("pc1:x")))
    );
    let m = msg(json!({"jsonrpc":"2.0","id":"forged","result":{}}));
    assert_eq!(
        route(&m, &fed(), &Owners),
        Route::Unknown(Unroutable::Answer)
    );
}

#[test]
fn a_single_unprefixed_upstream_gets_everything_unchanged() {
    let one = Naming::new(vec![None], "__").unwrap();
    for m in [
        msg(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}})),
        msg(json!({"jsonrpc":"2.0","id":1,"method":"initialize"})),
        msg(json!({"jsonrpc":"2.0","id":"anything","result":{}})),
    ] {
        assert_eq!(
            route(&m, &one, &Owners),
            Route::One {
                upstream: 0,
                rewrite: Rewrite::None
            }
        );
    }
}
