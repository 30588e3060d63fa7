//! The report's pictures as inline SVG, drawn here rather than by a script
//! (the page runs no code to show them, and the Content-Security-Policy
//! allows only the page's own small script): a call's waterfall, a
//! connection's ladder, and bar charts over time. Every string put in a
//! picture goes through [`esc`].

use std::fmt::Write;

use super::ladder::Ladder;

/// Width of every picture, px.
pub const WIDTH: f64 = 720.0;

/// XML-escapes `s` for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `12.3 ms`, `1.50 s`.
pub fn ms_text(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".into();
    }
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms > 0.0 && ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// One phase of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// `dns`, `connect`, `tls`, `send`, `wait`, `transfer`, or `open`
    /// (the connection after its set-up, when no transaction was seen).
    pub name: &'static str,
    /// How long, ms.
    pub ms: f64,
    /// Where the call failed.
    pub failed: bool,
}

/// A call's phases as consecutive bars, to scale (a browser network
/// panel's waterfall). Each bar carries `data-phase` and `data-ms`.
pub fn waterfall(phases: &[Phase]) -> String {
    let total: f64 = phases.iter().map(|p| p.ms.max(0.0)).sum();
    let area = WIDTH - 2.0;
    let scale = if total > 0.0 { area / total } else { 0.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="waterfall" width="{WIDTH}" height="44" viewBox="0 0 {WIDTH} 44" role="img" aria-label="phases of the call">"#
    );
    let mut x = 1.0;
    for p in phases {
        let w = p.ms.max(0.0) * scale;
        let class = if p.failed { " failed" } else { "" };
        let _ = write!(
            s,
            r#"<rect class="ph ph-{name}{class}" data-phase="{name}" data-ms="{ms:.3}" x="{x:.2}" y="4" width="{w:.2}" height="18"><title>{name}: {text}</title></rect>"#,
            name = p.name,
            ms = p.ms,
            text = ms_text(p.ms),
        );
        // A label where the bar leaves room for one.
        if w >= 46.0 {
            let _ = write!(
                s,
                r#"<text class="phl" x="{:.2}" y="38">{} {}</text>"#,
                x + 2.0,
                p.name,
                ms_text(p.ms)
            );
        }
        x += w;
    }
    s.push_str("</svg>");
    s
}

/// Height of one arrow's row in a ladder, px.
const ROW: f64 = 22.0;

/// A connection's packets between two lanes, one row per packet (rows
/// are not to scale: the time of each is written beside it, and a gap of
/// packets left out is marked).
pub fn ladder(l: &Ladder) -> String {
    let (left, right) = (170.0, WIDTH - 60.0);
    let gaps = l.arrows.iter().filter(|a| a.gap_before > 0).count();
    let height = 40.0 + ROW * (l.arrows.len() + gaps) as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="ladder" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="packets of connection {conn}">"#,
        conn = l.conn
    );
    let _ = write!(
        s,
        r#"<text class="lane-name" x="{left}" y="14" text-anchor="middle">client {}</text><text class="lane-name" x="{right}" y="14" text-anchor="middle">server {}</text>"#,
        esc(&l.client.to_string()),
        esc(&l.server.to_string())
    );
    let _ = write!(
        s,
        r#"<line class="lane" x1="{left}" y1="22" x2="{left}" y2="{h}"/><line class="lane" x1="{right}" y1="22" x2="{right}" y2="{h}"/>"#,
        h = height - 4.0
    );
    let mut y = 40.0;
    let mut previous_ms = 0.0;
    for a in &l.arrows {
        if a.gap_before > 0 {
            let _ = write!(
                s,
                r#"<text class="gap" x="{:.1}" y="{:.1}" text-anchor="middle">… {} packets not shown …</text>"#,
                (left + right) / 2.0,
                y + 4.0,
                a.gap_before
            );
            y += ROW;
        }
        let (x1, x2) = if a.from_client {
            (left, right)
        } else {
            (right, left)
        };
        let mut class = String::from("arrow");
        for (on, name) in [
            (a.resent, " resent"),
            (a.ends, " ends"),
            (a.cited, " cited"),
        ] {
            if on {
                class.push_str(name);
            }
        }
        let marker = if a.resent { "ah-red" } else { "ah" };
        let _ = write!(
            s,
            r#"<g class="{class}" data-frame="{frame}" data-from="{from}"><line x1="{x1}" y1="{y:.1}" x2="{x2}" y2="{y2:.1}" marker-end="url(#{marker})"/>"#,
            frame = a.frame,
            from = if a.from_client { "client" } else { "server" },
            y2 = y + 8.0,
        );
        let _ = write!(
            s,
            r#"<text class="al" x="{:.1}" y="{:.1}" text-anchor="middle">{}{}</text>"#,
            (left + right) / 2.0,
            y - 2.0,
            esc(&a.label),
            if a.resent { " (sent again)" } else { "" }
        );
        let delta = a.at_ms - previous_ms;
        let long = if delta >= 1000.0 { " long" } else { "" };
        let _ = write!(
            s,
            r#"<text class="at{long}" x="4" y="{:.1}">{} #{}</text>"#,
            y + 6.0,
            esc(&format!("+{}", ms_text(a.at_ms))),
            a.frame
        );
        let _ = write!(
            s,
            r#"<title>frame {}: {}</title></g>"#,
            a.frame,
            esc(&a.label)
        );
        previous_ms = a.at_ms;
        y += ROW;
    }
    s.push_str("</svg>");
    s
}

/// One bar chart over time.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// What the bars are, with the unit.
    pub title: &'a str,
    /// The bars' values, one per bucket.
    pub values: Vec<f64>,
    /// A second value per bucket drawn over the bar in red (the failed
    /// part of a count), or as a tick (the maximum of a mean), per `ticks`.
    pub overlay: Option<Vec<f64>>,
    /// The overlay is a tick above the bar, not a red part of it.
    pub ticks: bool,
    /// How a value is written.
    pub unit: fn(f64) -> String,
    /// The left and right labels of the time axis.
    pub from: String,
    /// The right label.
    pub to: String,
}

/// A bar chart: one bar per time bucket, scaled to the largest value.
pub fn chart(c: &Chart<'_>) -> String {
    let (h, top, bottom) = (130.0, 18.0, 18.0);
    let plot = h - top - bottom;
    let n = c.values.len().max(1);
    let bar = (WIDTH - 60.0) / n as f64;
    let max = c
        .values
        .iter()
        .chain(c.overlay.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let scale = if max > 0.0 { plot / max } else { 0.0 };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}" role="img" aria-label="{title}"><text class="ct" x="0" y="12">{title}</text><text class="cmax" x="{WIDTH}" y="12" text-anchor="end">max {max}</text>"#,
        title = esc(c.title),
        max = esc(&(c.unit)(max)),
    );
    let base = top + plot;
    let _ = write!(
        s,
        r#"<line class="axis" x1="50" y1="{base}" x2="{WIDTH}" y2="{base}"/>"#
    );
    for (i, &v) in c.values.iter().enumerate() {
        let x = 50.0 + i as f64 * bar;
        let bh = v.max(0.0) * scale;
        if bh > 0.0 {
            let _ = write!(
                s,
                r#"<rect class="bar" data-v="{v}" x="{x:.2}" y="{:.2}" width="{:.2}" height="{bh:.2}"><title>{}</title></rect>"#,
                base - bh,
                (bar - 1.0).max(0.5),
                esc(&(c.unit)(v)),
            );
        }
        if let Some(o) = c.overlay.as_ref().and_then(|o| o.get(i)).copied() {
            if o <= 0.0 || !o.is_finite() {
                continue;
            }
            let oh = o * scale;
            if c.ticks {
                let _ = write!(
                    s,
                    r#"<line class="tick" x1="{x:.2}" y1="{y:.2}" x2="{x2:.2}" y2="{y:.2}"><title>max {}</title></line>"#,
                    esc(&(c.unit)(o)),
                    y = base - oh,
                    x2 = x + (bar - 1.0).max(0.5),
                );
            } else {
                let _ = write!(
                    s,
                    r#"<rect class="bar bad" data-v="{o}" x="{x:.2}" y="{:.2}" width="{:.2}" height="{oh:.2}"><title>{} failed</title></rect>"#,
                    base - oh,
                    (bar - 1.0).max(0.5),
                    esc(&(c.unit)(o)),
                );
            }
        }
    }
    let _ = write!(
        s,
        r#"<text class="cx" x="50" y="{:.1}">{}</text><text class="cx" x="{WIDTH}" y="{:.1}" text-anchor="end">{}</text></svg>"#,
        h - 4.0,
        esc(&c.from),
        h - 4.0,
        esc(&c.to)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_as_wide_as_their_share_of_the_call() {
        let svg = waterfall(&[
            Phase {
                name: "connect",
                ms: 10.0,
                failed: false,
            },
            Phase {
                name: "wait",
                ms: 30.0,
                failed: true,
            },
        ]);
        let width = |phase: &str| -> f64 {
            let at = svg.find(&format!("data-phase=\"{phase}\"")).unwrap();
            let rest = &svg[at..];
            let w = rest.find("width=\"").unwrap() + 7;
            rest[w..w + rest[w..].find('"').unwrap()].parse().unwrap()
        };
        assert!((width("wait") / width("connect") - 3.0).abs() < 0.01);
        assert!(svg.contains("ph-wait failed"));
    }

    #[test]
    fn text_in_pictures_is_escaped() {
        assert_eq!(
            esc("<script>\"x\"&'\u{1b}"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;\\u{1b}"
        );
    }
}
