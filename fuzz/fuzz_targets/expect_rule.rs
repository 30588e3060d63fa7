//! `--expect` rule and `--for` scope parser fuzz target: the input (as UTF-8,
//! lossily) is parsed as a rule and as a scope; a parsed rule is evaluated on a
//! response whose body is the input's bytes (raw, then as a gzip Content-Encoding).
//! Errors must point inside the text and print; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netsleuth::app::http::{BodyState, ResponseData};
use netsleuth::expect::{Request, Rule, Scope, TxView};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Rule::parse(&text) {
        Err(e) => {
            assert!(e.pos <= text.chars().count());
            let _ = e.to_string();
        }
        Ok(rule) => {
            for encoding in ["identity", "gzip"] {
                let response = ResponseData {
                    headers: vec![
                        ("Content-Type".into(), "application/json".into()),
                        ("Content-Encoding".into(), encoding.into()),
                    ],
                    headers_complete: data.len() % 2 == 0,
                    body: data.to_vec(),
                    body_state: BodyState::Complete,
                };
                let view = TxView::new(Some(200), Some(&response), None, None)
                    .with_request(Some(&response), true);
                let _ = view.evaluate(&rule.check);
            }
        }
    }
    if let Ok(scope) = Scope::parse(&text) {
        let _ = scope.matches(&Request {
            method: Some("GET"),
            host: Some(&text),
            path: Some(&text),
            server: None,
        });
    }
});
