//! Invariants on any input: the parser never panics and reports positions inside
//! the rule; the evaluator never panics on any body, header or rule.

use proptest::prelude::*;

use super::*;
use crate::app::http::{BodyState, ResponseData};

/// Text built from the language's own pieces, so random inputs get deep.
fn rule_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("status".to_string()),
        Just("header".to_string()),
        Just("json".to_string()),
        Just("body".to_string()),
        Just("time".to_string()),
        Just("ttfb".to_string()),
        Just("in".to_string()),
        Just("exists".to_string()),
        Just("missing".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("-1".to_string()),
        Just("==".to_string()),
        Just("!~".to_string()),
        Just("<=".to_string()),
        Just("~".to_string()),
        Just(" ".to_string()),
        "[a-z0-9]{1,4}",
        "[0-9]{1,25}",
        "\\PC{0,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "[\\[\\]{}\":,0-9a-z .-]{0,80}".prop_map(String::into_bytes),
        Just(br#"{"a":{"b":[1,"x",null,{"c":true}]},"n":-1e308}"#.to_vec()),
    ]
}

fn state() -> impl Strategy<Value = BodyState> {
    prop_oneof![
        Just(BodyState::Complete),
        Just(BodyState::Cut),
        Just(BodyState::NotKept),
        Just(BodyState::TooLarge { limit: 100 }),
        any::<u64>().prop_map(|bytes| BodyState::Missing { bytes }),
    ]
}

proptest! {
    #[test]
    fn parser_never_panics(text in "\\PC{0,60}") {
        if let Err(e) = Rule::parse(&text) {
            prop_assert!(e.pos <= text.chars().count());
            let _ = e.to_string();
        }
        let _ = Scope::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_rule_like_text(text in rule_like()) {
        match Rule::parse(&text) {
            Err(e) => {
                prop_assert!(e.pos <= text.chars().count());
                let _ = e.to_string();
            }
            Ok(r) => {
                // A parsed path prints in a form that parses back to itself.
                if let Check::Json { path, .. } = &r.check {
                    let again = Rule::parse(&format!("json {path} exists")).unwrap();
                    let Check::Json { path: p2, .. } = again.check else { unreachable!() };
                    prop_assert_eq!(path, &p2);
                }
            }
        }
    }

    #[test]
    fn evaluator_never_panics(
        rule in rule_like(),
        body in body(),
        state in state(),
        gzip in any::<bool>(),
        complete in any::<bool>(),
        status in proptest::option::of(100u16..600),
        total in proptest::option::of(0u64..10_000_000_000),
    ) {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if gzip {
            headers.push(("Content-Encoding".to_string(), "gzip".to_string()));
        }
        let data = ResponseData { headers, headers_complete: complete, body, body_state: state };
        let d = total.map(std::time::Duration::from_nanos);
        let view = TxView::new(status, Some(&data), d, d);
        for text in [rule.as_str(), "json .a.b[3].c exists", "json . == 1", "body ~ x", "header content-encoding ~ gz"] {
            if let Ok(r) = Rule::parse(text) {
                let _ = view.evaluate(&r.check);
            }
        }
    }
}
