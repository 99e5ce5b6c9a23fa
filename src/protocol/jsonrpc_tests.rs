use super::*;

fn parse_str(s: &str) -> Result<Envelope, ParseError> {
    parse(
        Bytes::copy_from_slice(s.as_bytes()),
        &ParseLimits::default(),
    )
}

#[test]
fn a_request_keeps_its_raw_bytes_and_exposes_its_parts() {
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
    let env = parse_str(body).unwrap();
    assert_eq!(env.raw().as_ref(), body.as_bytes());
    let m = env.single().unwrap();
    assert_eq!(m.kind(), Kind::Request);
    assert_eq!(m.id(), Some(&RequestId::Number(7)));
    assert_eq!(m.method(), Some("tools/call"));
    assert_eq!(m.target(), Some(&Target::Tool("echo".into())));
    assert_eq!(m.arguments().unwrap()["text"], "hi");
}

#[test]
fn the_four_shapes_are_told_apart() {
    let kind = |s: &str| parse_str(s).unwrap().single().unwrap().kind();
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Kind::Notification
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
        Kind::Response
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#),
        Kind::ErrorResponse
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
        Kind::Request
    );
}

#[test]
fn malformed_json_is_a_parse_error() {
    for body in [
        "",
        "{",
        "{\"jsonrpc\":\"2.0\",}",
        "nul",
        "{\"a\":1,\"a\":2}",
    ] {
        let err = parse_str(body).unwrap_err();
        assert_eq!(err.code(), -32700, "{body}: {err}");
    }
    let err = parse(
        Bytes::from_static(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\x28\"}"),
        &ParseLimits::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), -32700);
}

#[test]
fn wrong_shapes_are_invalid_requests_with_the_id_when_readable() {
    let cases = [
        (r#"{"id":1,"method":"ping"}"#, Some(RequestId::Number(1))),
        (
            r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#,
            Some(RequestId::String("x".into())),
        ),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, None),
        (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, None),
        (r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#, None),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":3}"#,
            Some(RequestId::Number(1)),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            Some(RequestId::Number(1)),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#,
            Some(RequestId::Number(1)),
        ),
        (r#"{"jsonrpc":"2.0","id":1}"#, Some(RequestId::Number(1))),
        (
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
            Some(RequestId::Number(1)),
        ),
        (r#"[]"#, None),
        (r#"[1]"#, None),
        (r#""hello""#, None),
    ];
    for (body, id) in cases {
        let err = parse_str(body).unwrap_err();
        assert_eq!(err.code(), -32600, "{body}: {err}");
        assert_eq!(err.id(), id.as_ref(), "{body}");
    }
}

#[test]
fn huge_ids_are_refused() {
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":"{}","method":"ping"}}"#,
        "x".repeat(300)
    );
    assert_eq!(parse_str(&long).unwrap_err().code(), -32600);
    let big = r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}"#;
    assert_eq!(parse_str(big).unwrap_err().code(), -32600);
    let max = r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#;
    let env = parse_str(max).unwrap();
    assert_eq!(
        env.single().unwrap().id().unwrap().to_json(),
        serde_json::json!(u64::MAX)
    );
}

#[test]
fn a_call_without_a_string_target_is_invalid_params() {
    let env =
        parse_str(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#).unwrap();
    let err = env.single().unwrap().target_error().unwrap();
    assert_eq!(err.code(), -32602);
    assert_eq!(err.id(), Some(&RequestId::Number(1)));
    let env =
        parse_str(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}"#).unwrap();
    assert_eq!(env.single().unwrap().target_error().unwrap().code(), -32602);
    let ok = parse_str(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
    assert!(ok.single().unwrap().target_error().is_none());
}

#[test]
fn batches_are_parsed_and_bounded() {
    let env = parse_str(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]"#)
        .unwrap();
    assert!(env.is_batch());
    assert_eq!(env.messages().len(), 2);
    let many = format!(
        "[{}]",
        vec![r#"{"jsonrpc":"2.0","method":"n"}"#; 33].join(",")
    );
    assert_eq!(parse_str(&many).unwrap_err().code(), -32600);
}

#[test]
fn the_modern_meta_version_is_exposed() {
    let env = parse_str(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
    )
    .unwrap();
    assert_eq!(
        env.single().unwrap().meta_protocol_version(),
        Some(Ok("2026-07-28"))
    );
    let env = parse_str(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":1}}}"#,
    )
    .unwrap();
    assert_eq!(env.single().unwrap().meta_protocol_version(), Some(Err(())));
}
