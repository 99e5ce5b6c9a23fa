use super::*;
use crate::protocol::jsonrpc::{ParseLimits, parse_message};
use serde_json::json;

fn msg(v: Value) -> Message {
    parse_message(v.to_string().as_bytes(), &ParseLimits::default()).unwrap()
}

fn call(args: Value) -> Message {
    msg(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":args}}),
    )
}

fn hdrs<'a>(
    method: &'a str,
    name: Option<&'a str>,
    params: &[(&'a str, &'a str)],
) -> MirroredHeaders<'a> {
    MirroredHeaders {
        method: Some(Sent::Once(method)),
        name: name.map(Sent::Once),
        params: params.iter().map(|(k, v)| (*k, Sent::Once(v))).collect(),
    }
}

fn region() -> Vec<ParamHeader> {
    param_headers_of(&json!({"inputSchema":{"properties":{
        "region":{"type":"string","x-mcp-header":"Region"},
        "n":{"type":"integer","x-mcp-header":"N"},
        "q":{"type":"string"}}}}))
}

#[test]
fn annotations_are_read_from_the_schema() {
    let mut p = region();
    p.sort_by(|a, b| a.suffix.cmp(&b.suffix));
    assert_eq!(p.len(), 2);
    assert_eq!(
        p[1],
        ParamHeader {
            suffix: "Region".into(),
            argument: "region".into()
        }
    );
}

#[test]
fn method_and_name_must_match_the_body() {
    let m = msg(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
    assert_eq!(check(&m, &hdrs("tools/list", None, &[]), None), Ok(()));
    assert!(matches!(
        check(&m, &hdrs("prompts/list", None, &[]), None),
        Err(Mismatch::Differs(_))
    ));
    assert!(matches!(
        check(&m, &hdrs("TOOLS/LIST", None, &[]), None),
        Err(Mismatch::Differs(_))
    ));
    let none = MirroredHeaders::default();
    assert!(matches!(check(&m, &none, None), Err(Mismatch::Missing(_))));
    let c = call(json!({}));
    assert_eq!(
        check(&c, &hdrs("tools/call", Some("  t  "), &[]), None),
        Ok(())
    );
    assert!(matches!(
        check(&c, &hdrs("tools/call", Some("u"), &[]), None),
        Err(Mismatch::Differs(_))
    ));
    assert!(matches!(
        check(&c, &hdrs("tools/call", None, &[]), None),
        Err(Mismatch::Missing(_))
    ));
    assert!(matches!(
        check(&m, &hdrs("tools/list", Some("t"), &[]), None),
        Err(Mismatch::Differs(_))
    ));
}

#[test]
fn a_task_request_names_its_task() {
    // The 2026-07-28 tasks extension: `Mcp-Name` is the task id.
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        let m = msg(json!({"jsonrpc":"2.0","id":1,"method":method,"params":{"taskId":"t-1"}}));
        assert_eq!(check(&m, &hdrs(method, Some("t-1"), &[]), None), Ok(()));
        assert!(matches!(
            check(&m, &hdrs(method, Some("t-2"), &[]), None),
            Err(Mismatch::Differs(_))
        ));
        assert!(matches!(
            check(&m, &hdrs(method, None, &[]), None),
            Err(Mismatch::Missing(_))
        ));
    }
}

#[test]
fn base64_values_are_decoded_strictly() {
    assert_eq!(decode_value("=?base64?SGVsbG8=?="), Some("Hello".into()));
    assert_eq!(decode_value("=?base64?SGVsbG8?="), None);
    assert_eq!(decode_value("=?base64?SGVs!!!bG8=?="), None);
    assert_eq!(decode_value("SGVsbG8="), Some("SGVsbG8=".into()));
    assert_eq!(
        decode_value("=?base64?SGVsbG8="),
        Some("=?base64?SGVsbG8=".into())
    );
    assert_eq!(decode_value("=?base64?/w==?="), None, "not UTF-8");
}

#[test]
fn mirrored_arguments_must_match() {
    let p = region();
    let c = call(json!({"region":"Hello","n":0,"q":"x"}));
    let ok = hdrs(
        "tools/call",
        Some("t"),
        &[("region", "=?base64?SGVsbG8=?="), ("N", "0")],
    );
    assert_eq!(check(&c, &ok, Some(&p)), Ok(()));
    let wrong = hdrs("tools/call", Some("t"), &[("Region", "Bye"), ("N", "0")]);
    assert!(matches!(
        check(&c, &wrong, Some(&p)),
        Err(Mismatch::Differs(_))
    ));
    let missing = hdrs("tools/call", Some("t"), &[("N", "0")]);
    assert!(matches!(
        check(&c, &missing, Some(&p)),
        Err(Mismatch::Missing(_))
    ));
    let bad = hdrs(
        "tools/call",
        Some("t"),
        &[("Region", "=?base64?SGVsbG8?="), ("N", "0")],
    );
    assert!(matches!(
        check(&c, &bad, Some(&p)),
        Err(Mismatch::BadEncoding(_))
    ));
    let extra = call(json!({"n":0}));
    let h = hdrs("tools/call", Some("t"), &[("Region", "x"), ("N", "0")]);
    assert!(matches!(
        check(&extra, &h, Some(&p)),
        Err(Mismatch::Unexpected(_))
    ));
    let unknown = hdrs(
        "tools/call",
        Some("t"),
        &[("Region", "Hello"), ("N", "0"), ("Other", "1")],
    );
    assert_eq!(
        check(&c, &unknown, Some(&p)),
        Ok(()),
        "unknown Mcp-Param headers pass"
    );
}

#[test]
fn repeated_headers_are_refused() {
    let m = msg(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
    let h = MirroredHeaders {
        method: Some(Sent::Repeated),
        ..Default::default()
    };
    assert!(matches!(check(&m, &h, None), Err(Mismatch::Repeated(_))));
}
