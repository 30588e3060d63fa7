//! `request ...` rules (and the explicit `response ...` prefix): parsing, what
//! they need kept, and evaluation on the request's data beside the response's.

use super::tests::{check, data, err, fail, pass, unchecked};
use super::*;
use crate::app::http::{BodyState, KeepConfig};

#[test]
fn parses_request_and_response_prefixes() {
    assert_eq!(
        check("request json .amount > 0"),
        Check::Request(Box::new(Check::Json {
            path: JsonPath(vec![PathStep::Key("amount".into())]),
            test: JsonTest::Order(Cmp::Gt, 0.0),
        }))
    );
    assert_eq!(
        check("REQUEST header Authorization exists"),
        Check::Request(Box::new(Check::Header {
            name: "Authorization".into(),
            test: HeaderTest::Exists,
        }))
    );
    assert_eq!(
        check("request body ~ \"order_id\""),
        Check::Request(Box::new(Check::Body(TextTest::Contains("order_id".into()))))
    );
    // `response` is the default made explicit: the same check.
    assert_eq!(check("response status == 200"), check("status == 200"));
    assert_eq!(
        check("response json .data.id exists"),
        check("json .data.id exists")
    );
    assert_eq!(check("response ttfb < 200ms"), check("ttfb < 200ms"));
}

#[test]
fn request_rules_that_make_no_sense_are_errors_with_a_caret() {
    for (rule, pos, msg) in [
        (
            "request status == 200",
            8,
            "request must be followed by header, json or body",
        ),
        ("request ttfb < 1s", 8, "header, json or body"),
        ("request", 7, "request must be followed by"),
        (
            "response request json . exists",
            9,
            "response must be followed by",
        ),
        ("request request body ~ x", 8, "header, json or body"),
        ("request header", 14, ""),
    ] {
        let e = err(rule);
        assert_eq!(e.pos, pos, "{rule}: {e}");
        assert!(e.message.contains(msg), "{rule}: {e}");
    }
}

#[test]
fn request_rules_ask_for_the_request_only() {
    let needs = |r: &str| Rule::parse(r).unwrap().check.needs();
    assert_eq!(
        needs("request header x-api-key exists"),
        KeepConfig {
            request_headers: true,
            ..KeepConfig::default()
        }
    );
    assert_eq!(
        needs("request json .amount > 0"),
        KeepConfig {
            request_headers: true,
            request_body: true,
            ..KeepConfig::default()
        }
    );
    let both = Expectations::bind(
        &[
            (1, "request body ~ x".into()),
            (2, "header content-type exists".into()),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        both.needs(),
        KeepConfig {
            headers: true,
            body: false,
            request_headers: true,
            request_body: true,
        }
    );
    assert!(!needs("request header a exists").response_any());
}

#[test]
fn request_rules_read_the_request() {
    let req = data(
        &[
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "k-1"),
        ],
        br#"{"amount":0,"currency":"EUR"}"#,
        BodyState::Complete,
    );
    let resp = data(
        &[("Content-Type", "text/plain")],
        b"accepted",
        BodyState::Complete,
    );
    let v = TxView::new(Some(201), Some(&resp), None, None).with_request(Some(&req), true);
    fail("request json .amount > 0", &v, ".amount was 0");
    pass("request json .currency == \"EUR\"", &v);
    pass("request header idempotency-key exists", &v);
    fail(
        "request header authorization exists",
        &v,
        "header authorization is missing",
    );
    pass("request body ~ currency", &v);
    fail("request body !~ amount", &v, "the body contains");
    // The response rules still read the response.
    pass("body ~ accepted", &v);
    pass("response header content-type ~ text", &v);
    fail("json . exists", &v, "not JSON");
}

#[test]
fn request_rules_unchecked_when_the_request_was_not_captured() {
    let cut = data(&[], br#"{"amount":"#, BodyState::Missing { bytes: 9 });
    let v = TxView::new(Some(200), None, None, None).with_request(Some(&cut), true);
    unchecked(
        "request json .amount > 0",
        &v,
        "9 bytes of the request body are missing",
    );
    let unseen = TxView::new(Some(200), None, None, None).with_request(None, false);
    unchecked("request header a exists", &unseen, "no request was seen");
    let not_kept = TxView::new(Some(200), None, None, None).with_request(None, true);
    unchecked(
        "request header a exists",
        &not_kept,
        "the request's header fields were not kept",
    );
    unchecked(
        "request body ~ a",
        &not_kept,
        "the request body was not kept",
    );
}
