//! `analyze --html report.html` (issue 15): one self-contained page, opened
//! by headless Chromium from file:// in a network namespace with no
//! network. The page shows the stories, waterfall bars to scale, packet
//! ladders; a capture carrying `<script>` in a Host header, a path and a
//! DNS name runs nothing; the page stays the same size when the capture
//! has four times the connections.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::conv::{Conv, CLIENT};
use crate::util::live::{dns_query, dns_response};
use crate::util::{eth_udp, netsleuth, write_file};

/// Conversations laid on one time line, as one pcap.
fn merge(convs: &[(f64, &Conv)]) -> Vec<u8> {
    let mut frames: Vec<(f64, Vec<u8>)> = convs
        .iter()
        .flat_map(|(at, c)| c.frames().iter().map(move |(t, f)| (at + t, f.clone())))
        .collect();
    frames.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Conv::new(1, 1);
    for (t, f) in frames {
        out.at(t).raw(f);
    }
    out.pcap()
}

const HOSTILE_HOST: &str = "<script>document.title='pwned'</script>";
const HOSTILE_PATH: &str = "/\"><img/src=x/onerror=\"document.title='img'\">";
const HOSTILE_NAME: &str = "<script>document.title='dns'</script>.test";

/// A slow 500 (connect 10 ms, the server answers 300 ms after the
/// request), a connect that times out after two resent SYNs, a refused
/// connection, a 404 whose Host and path are hostile, and a lookup of a
/// hostile name answered NXDOMAIN.
fn faults_capture() -> Vec<u8> {
    let mut slow = Conv::new(40001, 80);
    slow.at(0.0).handshake(0.010);
    slow.at(0.0102)
        .c("P.", b"GET /slow HTTP/1.1\r\nHost: api.example\r\n\r\n");
    slow.at(0.3102).s(
        "P.",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno",
    );
    slow.at(0.3103).c(".", &[]);
    let mut lost = Conv::new(40002, 8443);
    let syn_seq = lost.client.seq;
    lost.at(0.0).c("S", &[]);
    lost.at(1.0).c_at_seq(syn_seq, "S", &[]);
    lost.at(3.0).c_at_seq(syn_seq, "S", &[]);
    let mut refused = Conv::new(40003, 81);
    refused.at(0.0).c("S", &[]).s("R.", &[]);
    let mut hostile = Conv::new(40004, 80);
    hostile.at(0.0).handshake(0.001);
    let request = format!("GET {HOSTILE_PATH} HTTP/1.1\r\nHost: {HOSTILE_HOST}\r\n\r\n");
    hostile.at(0.002).c("P.", request.as_bytes());
    hostile
        .at(0.004)
        .s("P.", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    hostile.at(0.005).c(".", &[]);
    let query = dns_query(0x4242, HOSTILE_NAME, 1);
    let mut dns = Conv::new(1, 1);
    dns.at(0.0)
        .raw(eth_udp(CLIENT, 35000, [10, 1, 0, 53], 53, &query));
    dns.at(0.004).raw(eth_udp(
        [10, 1, 0, 53],
        53,
        CLIENT,
        35000,
        &dns_response(&query, 3, false, &[]),
    ));
    merge(&[
        (0.0, &slow),
        (1.0, &lost),
        (2.0, &refused),
        (3.0, &hostile),
        (3.5, &dns),
    ])
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs headless Chromium on `page` from file://, with no network (a new
/// network namespace when root), and returns the DOM after the page's
/// scripts ran, and a screenshot.
fn chromium(page: &Path, dir: &Path) -> (String, PathBuf) {
    let (dom, shot) = chromium_at(page, "", dir, true);
    (dom, shot.expect("a screenshot"))
}

/// The DOM of `page` opened at `#fragment`, and a screenshot if asked.
fn chromium_at(
    page: &Path,
    fragment: &str,
    dir: &Path,
    screenshot: bool,
) -> (String, Option<PathBuf>) {
    assert!(
        have("chromium"),
        "this test needs Debian's chromium (scripts/install-deps installs it)"
    );
    let url = format!("file://{}{fragment}", page.display());
    let shot = dir.join("shot.png");
    let run = |extra: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = if unsafe { libc::geteuid() } == 0 {
            let mut c = Command::new("unshare");
            c.args(["--net", "timeout", "120", "chromium"]);
            c
        } else {
            let mut c = Command::new("timeout");
            c.args(["120", "chromium"]);
            c
        };
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url);
        let out = cmd.output().expect("run chromium");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom".to_string()]);
    if !screenshot {
        return (dom, None);
    }
    run(&[format!("--screenshot={}", shot.display())]);
    (dom, Some(shot))
}

/// The first cell of each row of the table `id`, and whether the row is hidden.
fn first_cells(dom: &str, id: &str) -> Vec<(String, bool)> {
    let start = dom.find(&format!("id=\"{id}\"")).expect("the table");
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let body = &table[table.find("<tbody>").unwrap()..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let hidden = row[..row.find('>').unwrap()].contains("hidden");
            let cell = row.split("<td").nth(1).unwrap();
            let text = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
            (text.to_string(), hidden)
        })
        .collect()
}

/// Every `<TAG ...>` opening tag whose text contains `marker`.
fn tags<'a>(html: &'a str, tag: &str, marker: &str) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    html.match_indices(&open)
        .filter_map(|(i, _)| {
            let end = html[i..].find('>')? + i;
            let t = &html[i..end];
            t.contains(marker).then_some(t)
        })
        .collect()
}

fn attr(tag: &str, name: &str) -> Option<f64> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    tag[at..at + tag[at..].find('"')?].parse().ok()
}

/// Of the PNG at `path`: the share of pixels that are not the page's
/// near-white background, and how many distinct colours it has.
fn ink(path: &Path) -> (f64, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let mut total = 0usize;
    for p in px.chunks(channels) {
        total += 1;
        let rgb = (p[0], p[1], *p.get(2).unwrap_or(&p[0]));
        colours.insert(rgb);
        if rgb.0 < 235 || rgb.1 < 235 || rgb.2 < 235 {
            inked += 1;
        }
    }
    (inked as f64 / total.max(1) as f64, colours.len())
}

#[test]
fn html_report_opens_offline_with_stories_waterfalls_ladders_and_runs_no_capture_script() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_file(dir.path(), "faults.pcap", &faults_capture());
    let page = dir.path().join("report.html");
    let out = netsleuth()
        .args(["analyze", cap.to_str().unwrap(), "--html"])
        .arg(&page)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTML report written to"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();

    // The file as written: one script, ours; the hostile strings as text.
    assert_eq!(html.matches("<script").count(), 1, "only the page's script");
    assert!(!html.contains("<img"), "a hostile path became an element");
    let shown: Vec<&str> = html.lines().filter(|l| l.contains("pwned")).collect();
    assert!(
        shown
            .iter()
            .any(|l| l.contains("&#60;script&#62;document.title=")
                || l.contains("&lt;script&gt;document.title=")),
        "the hostile Host is not shown as text: {shown:?}"
    );
    assert!(html.contains("Content-Security-Policy"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );

    let (dom, shot) = chromium(&page, dir.path());
    // The page's own script ran: the policy lets its hash through.
    assert!(
        dom.contains("data-script=\"ran\""),
        "the page's script did not run"
    );
    // No capture string ran or became markup.
    assert!(dom.contains("<title>netsleuth: "), "title changed");
    for bad in ["pwned", "'img'", "'dns'"] {
        assert!(
            !dom.contains(&format!("<title>{bad}")),
            "a capture script ran: {bad}"
        );
    }
    assert!(!dom.contains("<img"), "a capture string became an element");
    assert!(
        dom.contains("&lt;script&gt;document.title='dns'&lt;/script&gt;.test"),
        "the hostile DNS name is shown as text"
    );

    // Stories: the slow 500, the connect time-out, the refusal, the 404.
    let stories = tags(&dom, "article", "class=\"story");
    assert!(stories.len() >= 4, "{stories:?}");
    let steps: Vec<&str> = stories
        .iter()
        .filter_map(|t| t.split("data-step=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        steps.contains(&"connect") && steps.contains(&"http"),
        "{steps:?}"
    );

    // Waterfall bars: width proportional to the phase's time in every call.
    let bars = tags(&dom, "rect", "data-phase=");
    assert!(bars.len() >= 5, "{bars:?}");
    let mut slow_call = None;
    for w in dom.split("<svg class=\"waterfall\"").skip(1) {
        let w = &w[..w.find("</svg>").unwrap()];
        let phases: Vec<(String, f64, f64)> = tags(w, "rect", "data-phase=")
            .iter()
            .map(|t| {
                let name = t
                    .split("data-phase=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                (
                    name.to_string(),
                    attr(t, "data-ms").unwrap(),
                    attr(t, "width").unwrap(),
                )
            })
            .collect();
        let per_ms: Vec<f64> = phases
            .iter()
            .filter(|p| p.1 > 1.0)
            .map(|p| p.2 / p.1)
            .collect();
        for r in &per_ms {
            assert!(
                (r / per_ms[0] - 1.0).abs() < 0.02,
                "bars not to scale: {phases:?}"
            );
        }
        if phases.iter().any(|p| p.0 == "wait" && p.1 > 250.0) {
            slow_call = Some(phases);
        }
    }
    let slow = slow_call.expect("the slow call's waterfall");
    let get = |n: &str| slow.iter().find(|p| p.0 == n).map(|p| p.2).unwrap();
    let ratio = get("wait") / get("connect");
    assert!(
        (ratio - 30.0).abs() < 1.0,
        "wait 300 ms vs connect 10 ms drawn as {ratio}: {slow:?}"
    );

    // Ladders: the connect time-out's three SYNs, two of them resent, in red.
    let arrows = tags(&dom, "g", "class=\"arrow");
    assert!(arrows.len() >= 10, "{}", arrows.len());
    let resent = arrows.iter().filter(|a| a.contains(" resent")).count();
    assert!(resent >= 2, "{arrows:?}");
    assert!(dom.contains("SYN (sent again)"));
    assert!(dom.contains(">RST, ACK<"), "the refusal's RST is drawn");

    // The tables sort and filter (the view comes from the address, as a
    // shared link gives it): by duration, longest first, the connect
    // time-out (3 s) leads; filtered on the refused port, one row is left.
    let (sorted, _) = chromium_at(&page, "#sort=conns-table,7,desc", dir.path(), false);
    let rows = first_cells(&sorted, "conns-table");
    assert!(
        sorted.contains("aria-sort=\"descending\""),
        "no column marked sorted"
    );
    let ids: Vec<u64> = rows.iter().map(|r| r.0.parse().unwrap()).collect();
    let lost = ids.iter().copied().find(|&id| {
        dom.contains(&format!("data-conn=\"{id}\" data-step=\"connect\""))
            && arrows_of(&dom, id) >= 3
    });
    assert_eq!(Some(ids[0]), lost, "sorted by duration: {ids:?}");
    let (filtered, _) = chromium_at(&page, "#filter=conns-table,:81", dir.path(), false);
    let rows = first_cells(&filtered, "conns-table");
    let shown: Vec<&(String, bool)> = rows.iter().filter(|r| !r.1).collect();
    assert_eq!(
        shown.len(),
        1,
        "only the refused connection to port 81: {rows:?}"
    );

    // The screenshot is a rendered page, not a blank one.
    let (share, colours) = ink(&shot);
    assert!(
        share > 0.02 && colours > 30,
        "blank screenshot? {share} inked, {colours} colours"
    );
}

/// How many arrows the ladder of connection `conn` has.
fn arrows_of(dom: &str, conn: u64) -> usize {
    dom.split(&format!("aria-label=\"packets of connection {conn}\""))
        .nth(1)
        .map(|rest| {
            rest[..rest.find("</svg>").unwrap()]
                .matches("class=\"arrow")
                .count()
        })
        .unwrap_or(0)
}

/// `n` refused connections and `n` healthy calls.
fn many_calls(n: u16) -> Vec<u8> {
    let mut convs = Vec::new();
    for i in 0..n {
        let mut c = Conv::new(10_000 + i, if i % 2 == 0 { 81 } else { 80 });
        if i % 2 == 0 {
            c.at(0.0).c("S", &[]).s("R.", &[]);
        } else {
            c.at(0.0).handshake(0.001);
            c.at(0.002).c("P.", b"GET / HTTP/1.1\r\nHost: api\r\n\r\n");
            c.at(0.003)
                .s("P.", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            c.at(0.004).c("F.", &[]).s("F.", &[]).c(".", &[]);
        }
        convs.push((f64::from(i) * 0.01, c));
    }
    let refs: Vec<(f64, &Conv)> = convs.iter().map(|(t, c)| (*t, c)).collect();
    merge(&refs)
}

#[test]
fn html_report_size_does_not_grow_with_the_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for n in [2_000u16, 8_000] {
        let cap = write_file(dir.path(), &format!("many{n}.pcap"), &many_calls(n));
        let page = dir.path().join(format!("many{n}.html"));
        let out = netsleuth()
            .args(["analyze", cap.to_str().unwrap(), "--html"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(out.status.code() == Some(1) || out.status.success());
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(
            html.contains(&format!("of {n} connections")),
            "the table says how many it chose from"
        );
        sizes.push(html.len() as f64);
    }
    assert!(sizes[1] < 2_000_000.0, "{sizes:?}");
    assert!(
        (sizes[1] / sizes[0] - 1.0).abs() < 0.05,
        "4x the connections made the page {:.2}x: {sizes:?}",
        sizes[1] / sizes[0]
    );
}

#[test]
fn html_report_from_standard_input_has_no_ladders_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("stdin.html");
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_netsleuth"))
        .args(["analyze", "-", "--html"])
        .arg(&page)
        .write_stdin(faults_capture())
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("standard input, which cannot be read twice"));
    assert!(!html.contains("class=\"ladder\""));
    assert!(
        html.contains("data-phase=\"wait\""),
        "waterfalls need no second read"
    );
}

#[test]
fn html_report_in_a_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let cap = write_file(dir.path(), "faults.pcap", &faults_capture());
    let page = dir.path().join("no/such/dir/report.html");
    let out = netsleuth()
        .args(["analyze", cap.to_str().unwrap(), "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write the HTML report") && stderr.contains("no/such/dir"),
        "{stderr}"
    );
}
