use super::*;

fn naming() -> Naming {
    Naming::new(vec![Some("a".into()), Some("b".into())], "__").unwrap()
}

#[test]
fn lists_are_renamed_concatenated_and_paginated_together() {
    let r0 = json!({"tools":[{"name":"x","inputSchema":{}}],"nextCursor":"p2","ttlMs":500,"cacheScope":"public","resultType":"complete"});
    let r1 = json!({"tools":[{"name":"x"},{"name":"y"}],"ttlMs":100,"cacheScope":"private"});
    let merged = list(
        ListKind::Tools,
        &naming(),
        &[
            Part {
                index: 0,
                result: &r0,
            },
            Part {
                index: 1,
                result: &r1,
            },
        ],
    );
    let names: Vec<&str> = merged["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a__x", "b__x", "b__y"]);
    assert_eq!(merged["ttlMs"], 100);
    assert_eq!(merged["cacheScope"], "private");
    assert_eq!(merged["resultType"], "complete");
    let cursor = Cursors::decode(merged["nextCursor"].as_str().unwrap(), 2).unwrap();
    assert_eq!(cursor.0.get(&0).map(String::as_str), Some("p2"));
    assert_eq!(cursor.0.len(), 1);
}

#[test]
fn resources_keep_their_uris() {
    let r = json!({"resources":[{"uri":"file:///a","name":"a"}]});
    let merged = list(
        ListKind::Resources,
        &naming(),
        &[Part {
            index: 1,
            result: &r,
        }],
    );
    assert_eq!(merged["resources"][0]["name"], "a");
    assert!(merged.get("nextCursor").is_none());
}

#[test]
fn foreign_cursors_are_refused() {
    assert!(Cursors::decode("not base64!", 2).is_none());
    let c = Cursors(BTreeMap::from([(5, "x".to_owned())]))
        .encode()
        .unwrap();
    assert!(
        Cursors::decode(&c, 2).is_none(),
        "index beyond the federation"
    );
    assert!(Cursors::default().encode().is_none());
}

#[test]
fn capabilities_are_the_union_with_flags_or_ed() {
    let merged = capabilities([
        &json!({"tools":{"listChanged":false},"logging":{}}),
        &json!({"tools":{"listChanged":true},"resources":{"subscribe":true}}),
    ]);
    assert_eq!(
        merged,
        json!({"tools":{"listChanged":true},"logging":{},"resources":{"subscribe":true}})
    );
}

#[test]
fn initialize_and_discover_speak_for_the_federation() {
    let names = vec!["a".to_owned(), "b".to_owned()];
    let r0 =
        json!({"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"instructions":"use a"});
    let r1 = json!({"protocolVersion":"2025-06-18","capabilities":{"prompts":{}}});
    let info = json!({"name":"portcullis","version":"1"});
    let init = initialize(
        &[
            Part {
                index: 0,
                result: &r0,
            },
            Part {
                index: 1,
                result: &r1,
            },
        ],
        &names,
        info.clone(),
    );
    assert_eq!(init["protocolVersion"], "2025-06-18");
    assert_eq!(init["instructions"], "[a] use a");
    assert!(init["capabilities"]["prompts"].is_object());
    let d0 = json!({"supportedVersions":["2026-07-28","2025-11-25"],"capabilities":{}});
    let d1 = json!({"supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"resultType":"complete"});
    let disc = discover(
        &[
            Part {
                index: 0,
                result: &d0,
            },
            Part {
                index: 1,
                result: &d1,
            },
        ],
        &names,
        info,
    );
    assert_eq!(disc["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(
        disc["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "portcullis"
    );
}
