//! Parser and evaluator tests: every form, error positions, every subject and
//! operator, JSON paths with arrays, and bodies that were not captured in full.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::app::http::{BodyState, ResponseData};

pub(super) fn check(rule: &str) -> Check {
    Rule::parse(rule)
        .unwrap_or_else(|e| panic!("{rule:?}: {e}"))
        .check
}

pub(super) fn err(rule: &str) -> RuleError {
    Rule::parse(rule).expect_err(rule)
}

#[test]
fn parses_every_form() {
    assert_eq!(check("status == 200"), Check::Status(Cmp::Eq, 200));
    assert_eq!(check("  STATUS!=404 "), Check::Status(Cmp::Ne, 404));
    assert_eq!(check("status < 400"), Check::Status(Cmp::Lt, 400));
    assert_eq!(check("status <= 399"), Check::Status(Cmp::Le, 399));
    assert_eq!(check("status > 100"), Check::Status(Cmp::Gt, 100));
    assert_eq!(check("status >= 200"), Check::Status(Cmp::Ge, 200));
    assert_eq!(check("status in 200..299"), Check::StatusIn(200, 299));
    assert_eq!(check("status in 200 .. 204"), Check::StatusIn(200, 204));
    let h = |test| Check::Header {
        name: "content-type".into(),
        test,
    };
    assert_eq!(check("header content-type exists"), h(HeaderTest::Exists));
    assert_eq!(check("header content-type missing"), h(HeaderTest::Missing));
    assert_eq!(
        check("header content-type ~ application/json"),
        h(HeaderTest::Text(TextTest::Contains(
            "application/json".into()
        )))
    );
    assert_eq!(
        check("header content-type !~ html"),
        h(HeaderTest::Text(TextTest::NotContains("html".into())))
    );
    assert_eq!(
        check(r#"header content-type == "text/plain; charset=utf-8""#),
        h(HeaderTest::Text(TextTest::Eq(
            "text/plain; charset=utf-8".into()
        )))
    );
    assert_eq!(
        check(r#"header content-type != "a\"b\\c\n""#),
        h(HeaderTest::Text(TextTest::Ne("a\"b\\c\n".into())))
    );
    let j = |path: Vec<PathStep>, test| Check::Json {
        path: JsonPath(path),
        test,
    };
    let k = |s: &str| PathStep::Key(s.into());
    assert_eq!(
        check("json .data.id exists"),
        j(vec![k("data"), k("id")], JsonTest::Exists)
    );
    assert_eq!(check("json . exists"), j(vec![], JsonTest::Exists));
    assert_eq!(
        check("json .error missing"),
        j(vec![k("error")], JsonTest::Missing)
    );
    assert_eq!(
        check("json .items[0].tags[-1] == \"x\""),
        j(
            vec![
                k("items"),
                PathStep::Index(0),
                k("tags"),
                PathStep::Index(-1)
            ],
            JsonTest::Eq(json!("x"))
        )
    );
    assert_eq!(
        check(r#"json .["a b"]."c.d"[2] == {"k": [1, null]}"#),
        j(
            vec![k("a b"), k("c.d"), PathStep::Index(2)],
            JsonTest::Eq(json!({"k": [1, null]}))
        )
    );
    assert_eq!(
        check("json .[0] != null"),
        j(vec![PathStep::Index(0)], JsonTest::Ne(json!(null)))
    );
    assert_eq!(
        check("json .ok == true"),
        j(vec![k("ok")], JsonTest::Eq(json!(true)))
    );
    assert_eq!(
        check("json .n >= -1.5"),
        j(vec![k("n")], JsonTest::Order(Cmp::Ge, -1.5))
    );
    assert_eq!(
        check("json .n < 10"),
        j(vec![k("n")], JsonTest::Order(Cmp::Lt, 10.0))
    );
    assert_eq!(
        check("json .msg ~ \"not found\""),
        j(vec![k("msg")], JsonTest::Contains("not found".into()))
    );
    assert_eq!(
        check("json .$meta-x.@id:1 !~ err"),
        j(
            vec![k("$meta-x"), k("@id:1")],
            JsonTest::NotContains("err".into())
        )
    );
    assert_eq!(
        check("body ~ \"internal error\""),
        Check::Body(TextTest::Contains("internal error".into()))
    );
    assert_eq!(
        check("body !~ Exception"),
        Check::Body(TextTest::NotContains("Exception".into()))
    );
    assert_eq!(
        check("time < 500ms"),
        Check::Time(Cmp::Lt, Duration::from_millis(500))
    );
    assert_eq!(
        check("ttfb <= 0.2"),
        Check::Ttfb(Cmp::Le, Duration::from_millis(200))
    );
    assert_eq!(
        check("time > 1.5m"),
        Check::Time(Cmp::Gt, Duration::from_secs(90))
    );
    assert_eq!(
        check("json.a[1]==1"),
        j(vec![k("a"), PathStep::Index(1)], JsonTest::Eq(json!(1)))
    );
    assert_eq!(
        check("json .!~x"),
        j(vec![], JsonTest::NotContains("x".into()))
    );
    let r = Rule::parse("  status == 200  ").unwrap();
    assert_eq!(r.text, "status == 200");
}

#[test]
fn path_display_round_trips() {
    for p in [".", ".a.b[0].c", ".[\"a b\"][-1]", ".x[\"\"]"] {
        let Check::Json { path, .. } = check(&format!("json {p} exists")) else {
            panic!()
        };
        assert_eq!(path.to_string(), p);
    }
}

#[test]
fn errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "empty rule"),
        ("   ", 0, "empty rule"),
        ("stat == 200", 0, "unknown subject"),
        ("== 200", 0, "unknown subject"),
        ("status = 200", 7, "use =="),
        (
            "status 200",
            7,
            "expected ==, !=, <, <=, >, >= or in after status",
        ),
        ("status == ok", 10, "status code"),
        ("status == 99", 10, "status code"),
        ("status == 200 extra", 14, "after the rule"),
        ("status in 200-299", 13, "expected .."),
        ("status in 299..200", 13, "empty range"),
        ("header", 6, "header name"),
        ("header x-id", 11, "after header x-id"),
        ("header x-id equals 3", 12, "after header x-id"),
        ("header ct ~", 11, "text to look for"),
        ("header ct == \"open", 13, "never closed"),
        ("header ct == \"bad\\q\"", 17, "unknown escape"),
        ("header ct ~ two words", 16, "after the rule"),
        ("json data.id exists", 5, "starting with ."),
        ("json .a..b exists", 8, "followed by a key"),
        ("json .a[x] exists", 8, "array index"),
        ("json .a[0 exists", 7, "never closed"),
        ("json .a# exists", 7, "unexpected character"),
        ("json .a", 7, "expected exists"),
        ("json .a == ok", 11, "JSON value"),
        ("json .a == [1,", 14, "invalid JSON"),
        ("json .a == {\"k\" 1}", 16, "invalid JSON"),
        ("json .a > x", 10, "number"),
        ("json .a > NaN", 10, "number"),
        ("body == x", 5, "~ or !~"),
        ("time == 1s", 5, "<, <=, > or >="),
        ("time < ", 7, "duration"),
        ("ttfb < 5 parsecs", 9, "after the rule"),
        ("ttfb < 5parsecs", 7, "unknown unit"),
        ("über == 1", 0, "unknown subject"),
        ("header é ~ x", 7, "header name"),
        ("json .é[x] exists", 8, "array index"),
    ];
    for (rule, pos, text) in cases {
        let e = err(rule);
        assert_eq!(e.pos, *pos, "{rule:?}: {e}");
        assert!(e.message.contains(text), "{rule:?}: {e}");
        assert_eq!(e.flag, "--expect");
        assert_eq!(e.text, *rule);
    }
}

#[test]
fn error_display_has_a_caret_under_the_position() {
    let e = err("status = 200");
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(
        lines[0].starts_with("bad --expect (at character 8):"),
        "{shown}"
    );
    assert_eq!(lines[1], "    status = 200");
    assert_eq!(lines[2], "           ^");
    // Control characters are escaped, and the caret follows the escaped text.
    let e = err("body ~ \u{1b}[2J x");
    let shown = e.to_string();
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    let lines: Vec<&str> = shown.lines().collect();
    let caret = lines[2].find('^').unwrap();
    assert_eq!(&lines[1][caret..caret + 1], "x", "{shown}");
}

#[test]
fn scopes_bind_to_the_rules_after_them() {
    let rules = vec![
        (1, "status == 200".to_string()),
        (5, "json .id exists".to_string()),
        (7, "time < 1s".to_string()),
        (11, "ttfb < 1s".to_string()),
    ];
    let scopes = vec![
        (9, "method POST".to_string()),
        (3, "host api.example.com".to_string()),
    ];
    let e = Expectations::bind(&rules, &scopes).unwrap();
    let hosts: Vec<Option<&str>> = e.items.iter().map(|x| x.scope.host.as_deref()).collect();
    assert_eq!(
        hosts,
        [None, Some("api.example.com"), Some("api.example.com"), None]
    );
    assert_eq!(e.items[3].scope.method.as_deref(), Some("POST"));
    assert!(e.items[0].scope.is_all());
    assert_eq!(
        e.needs(),
        crate::app::http::KeepConfig {
            headers: true,
            body: true,
            ..Default::default()
        }
    );
    let only_status = Expectations::bind(&rules[..1], &[]).unwrap();
    assert!(!only_status.needs().any());
    // A --for with no rule after it.
    let e = Expectations::bind(&rules[..1], &[(3, "host x".to_string())]).unwrap_err();
    assert_eq!(e.flag, "--for");
    assert!(e.message.contains("no --expect follows"), "{e}");
    let e = Expectations::bind(
        &rules[1..2],
        &[(2, "host x".to_string()), (4, "host y".to_string())],
    )
    .unwrap_err();
    assert_eq!(e.text, "host x");
    // Bad rules surface with their own position.
    let e = Expectations::bind(&[(1, "status ~ 2".to_string())], &[]).unwrap_err();
    assert_eq!(e.pos, 7);
}

pub(super) fn data(headers: &[(&str, &str)], body: &[u8], state: BodyState) -> ResponseData {
    ResponseData {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers_complete: true,
        body: body.to_vec(),
        body_state: state,
    }
}

fn eval(rule: &str, view: &TxView<'_>) -> Outcome {
    view.evaluate(&check(rule))
}

pub(super) fn pass(rule: &str, view: &TxView<'_>) {
    assert_eq!(eval(rule, view), Outcome::Pass, "{rule}");
}

pub(super) fn fail(rule: &str, view: &TxView<'_>, found: &str) {
    match eval(rule, view) {
        Outcome::Fail(f) => assert!(f.contains(found), "{rule}: {f}"),
        o => panic!("{rule}: {o:?}"),
    }
}

pub(super) fn unchecked(rule: &str, view: &TxView<'_>, why: &str) {
    match eval(rule, view) {
        Outcome::Unchecked(w) => assert!(w.contains(why), "{rule}: {w}"),
        o => panic!("{rule}: {o:?}"),
    }
}

#[test]
fn status_rules() {
    let v = TxView::new(Some(503), None, None, None);
    pass("status >= 500", &v);
    pass("status != 200", &v);
    pass("status in 500..599", &v);
    fail("status == 200", &v, "status was 503");
    fail("status in 200..299", &v, "status was 503");
    fail("status < 400", &v, "503");
    let none = TxView::new(None, None, None, None);
    unchecked("status == 200", &none, "no response");
    unchecked("header a exists", &none, "no response");
    unchecked("json .a exists", &none, "no response");
}

#[test]
fn header_rules() {
    let d = data(
        &[
            ("Content-Type", "application/json; charset=utf-8"),
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
        ],
        b"",
        BodyState::NotKept,
    );
    let v = TxView::new(Some(200), Some(&d), None, None);
    pass("header content-type exists", &v);
    pass("header CONTENT-TYPE ~ APPLICATION/JSON", &v);
    pass("header x-id missing", &v);
    pass("header set-cookie == b=2", &v);
    pass("header set-cookie != c=3", &v);
    pass("header x-id != 1", &v);
    pass("header x-id !~ 1", &v);
    pass("header content-type !~ html", &v);
    fail("header x-id exists", &v, "header x-id is missing");
    fail("header x-id == 1", &v, "missing");
    fail("header content-type missing", &v, "present");
    fail(
        "header content-type == application/json",
        &v,
        "header content-type was \"application/json; charset=utf-8\"",
    );
    fail("header set-cookie ~ c=", &v, "\"a=1\", \"b=2\"");
    fail("header set-cookie !~ b=", &v, "b=2");
    fail("header set-cookie != a=1", &v, "a=1");
    let mut partial = d.clone();
    partial.headers_complete = false;
    let v = TxView::new(Some(200), Some(&partial), None, None);
    unchecked("header x-id exists", &v, "first 64 fields");
    unchecked("header x-id missing", &v, "first 64 fields");
    pass("header content-type exists", &v);
    let none = TxView::new(Some(200), None, None, None);
    unchecked("header content-type exists", &none, "not kept");
    // Values from the wire are escaped in what is shown.
    let hostile = data(&[("X", "\u{1b}[2Jgotcha")], b"", BodyState::NotKept);
    let v = TxView::new(Some(200), Some(&hostile), None, None);
    let Outcome::Fail(f) = eval("header x == y", &v) else {
        panic!()
    };
    assert!(!f.contains('\u{1b}'), "{f:?}");
}

#[test]
fn json_rules() {
    let body =
        br#"{"data":{"id":7,"name":"Ada","tags":["a","b"],"ratio":0.5,"nil":null},"ok":true}"#;
    let d = data(&[], body, BodyState::Complete);
    let v = TxView::new(Some(200), Some(&d), None, None);
    pass("json . exists", &v);
    pass("json .data.id exists", &v);
    pass("json .data.nil exists", &v);
    pass("json .data.nope missing", &v);
    pass("json .data.id == 7", &v);
    pass("json .data.id == 7.0", &v);
    pass("json .data.id != 8", &v);
    pass("json .data.missing != 8", &v);
    pass("json .data.tags[1] == \"b\"", &v);
    pass("json .data.tags[-1] == \"b\"", &v);
    pass("json .data.tags == [\"a\", \"b\"]", &v);
    pass("json .data.nil == null", &v);
    pass("json .ok == true", &v);
    pass("json .data.ratio < 1", &v);
    pass("json .data.id >= 7", &v);
    pass("json .data.name ~ ad", &v);
    pass("json .data.name !~ bob", &v);
    pass("json .data.id !~ 7", &v);
    pass(
        r#"json .data == {"nil": null, "ratio": 0.5, "tags": ["a","b"], "name": "Ada", "id": 7}"#,
        &v,
    );
    fail(
        "json .data.tags[2] exists",
        &v,
        ".data.tags[2] is missing; body was {",
    );
    fail("json .data.tags[-3] exists", &v, "missing");
    fail("json .data.id.x exists", &v, "missing");
    fail("json .data[0] exists", &v, "missing");
    fail("json .data.id missing", &v, ".data.id was 7");
    fail("json .data.id == \"7\"", &v, ".data.id was 7");
    fail("json .data.id != 7", &v, "was 7");
    fail("json .data.id > 7", &v, "was 7");
    fail("json .data.name > 1", &v, "not a number");
    fail("json .data.id ~ 7", &v, "not a string");
    fail("json .data.name ~ bob", &v, "\"Ada\"");
    fail("json .data.name !~ AD", &v, "\"Ada\"");
    fail("json .nope == 1", &v, "missing");
    fail("json .nope < 1", &v, "missing");
    fail("json .nope ~ x", &v, "missing");

    let err = data(&[], br#"{"error":"boom"}"#, BodyState::Complete);
    let v = TxView::new(Some(500), Some(&err), None, None);
    fail(
        "json .data.id exists",
        &v,
        r#".data.id is missing; body was {"error":"boom"}"#,
    );
    let html = data(&[], b"<html>oops</html>", BodyState::Complete);
    let v = TxView::new(Some(502), Some(&html), None, None);
    fail("json .error missing", &v, "not JSON");
    fail("json . exists", &v, "body was <html>oops</html>");
    let empty = data(&[], b"", BodyState::Complete);
    let v = TxView::new(Some(204), Some(&empty), None, None);
    fail("json . exists", &v, "empty");
    let array = data(&[], b"[1,2,3]", BodyState::Complete);
    let v = TxView::new(Some(200), Some(&array), None, None);
    pass("json .[0] == 1", &v);
    pass("json .[-1] == 3", &v);
}

#[test]
fn bodies_not_captured_are_unchecked() {
    for (state, why) in [
        (BodyState::TooLarge { limit: 1 << 20 }, "larger than"),
        (
            BodyState::Missing { bytes: 12 },
            "12 bytes of the response body are missing",
        ),
        (BodyState::Cut, "cut short"),
        (BodyState::OverBudget, "budget"),
        (BodyState::NotKept, "not kept"),
    ] {
        let d = data(&[], br#"{"data":{"id":1}}"#, state);
        let v = TxView::new(Some(200), Some(&d), None, None);
        unchecked("json .data.id exists", &v, why);
        unchecked("json .x missing", &v, why);
        unchecked("body ~ nothere", &v, why);
        if d.body_state != BodyState::NotKept {
            // A prefix that contains the text proves it.
            pass("body ~ DATA", &v);
            fail("body !~ data", &v, "contains");
        }
    }
    let v = TxView::new(Some(200), None, None, None);
    unchecked("body ~ x", &v, "not kept");
    let d = data(&[("Content-Encoding", "br")], b"xx", BodyState::Complete);
    let v = TxView::new(Some(200), Some(&d), None, None);
    unchecked("json . exists", &v, "br-encoded");
}

#[test]
fn body_rules() {
    let d = data(
        &[],
        b"Internal Server Error: NullPointerException",
        BodyState::Complete,
    );
    let v = TxView::new(Some(500), Some(&d), None, None);
    pass("body ~ \"server error\"", &v);
    pass("body !~ timeout", &v);
    fail(
        "body ~ welcome",
        &v,
        "does not contain \"welcome\"; body was Internal",
    );
    fail("body !~ nullpointer", &v, "contains \"nullpointer\"");
    let long = vec![b'a'; 10_000];
    let d = data(&[], &long, BodyState::Complete);
    let v = TxView::new(Some(200), Some(&d), None, None);
    let Outcome::Fail(f) = eval("body ~ b", &v) else {
        panic!()
    };
    assert!(f.len() < 400 && f.ends_with('…'), "{f}");
}

#[test]
fn timing_rules() {
    let v = TxView::new(
        Some(200),
        None,
        Some(Duration::from_millis(700)),
        Some(Duration::from_millis(150)),
    );
    pass("time < 1s", &v);
    pass("ttfb < 200ms", &v);
    pass("time >= 700ms", &v);
    fail("time < 500ms", &v, "time was 700.0 ms");
    fail("ttfb > 1s", &v, "ttfb was 150.0 ms");
    let v = TxView::new(Some(200), None, None, None);
    unchecked("time < 1s", &v, "not measurable");
    unchecked("ttfb < 1s", &v, "not measurable");
}

#[test]
fn check_applies_scopes() {
    let e = Expectations::bind(
        &[(1, "status == 200".into()), (3, "status == 201".into())],
        &[(2, "path /v1/*".into())],
    )
    .unwrap();
    let v = TxView::new(Some(200), None, None, None);
    let inside = Request {
        path: Some("/v1/x"),
        ..Request::default()
    };
    let outside = Request {
        path: Some("/v2/x"),
        ..Request::default()
    };
    let failed = e.check(&inside, &v);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].expectation.rule.text, "status == 201");
    assert!(e.check(&outside, &v).is_empty());
}
