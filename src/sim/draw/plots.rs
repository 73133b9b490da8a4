//! The run-wide charts: the operations of each client as bars over time, latency over time,
//! and messages sent per node by type.
//!
//! Each chart covers the whole run (the diagram covers a window, drawn on the timeline as a
//! shaded span). Output is bounded: points that fall on the same pixel are drawn once.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use super::model::{is_client, Operation, Outcome, Run};
use super::svg::{escape, num, seconds, tick_step, ticks, Palette};
use super::Window;

/// Width of every chart, pixels.
const WIDTH_PX: f64 = 1300.0;
/// Space left of a chart's plotting area.
const LEFT_PX: f64 = 70.0;
/// Above this many operations, bars carry no hover text unless named by the checker.
const MAX_TITLED_OPS: usize = 4000;

/// A horizontal time scale over the whole run.
struct TimeScale {
    end_us: u64,
}

impl TimeScale {
    fn x(&self, us: u64) -> f64 {
        LEFT_PX + us as f64 / self.end_us.max(1) as f64 * (WIDTH_PX - LEFT_PX - 20.0)
    }

    /// Tick lines and second labels from `top` to `bottom`.
    fn axis(&self, out: &mut String, top: f64, bottom: f64) {
        let end_s = self.end_us as f64 / 1e6;
        let step = tick_step(end_s, 12.0);
        for s in ticks(0.0, end_s, step) {
            let x = num(self.x((s * 1e6) as u64));
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x}" y1="{}" x2="{x}" y2="{}"/><text class="xlabel" x="{x}" y="{}">{}s</text>"#,
                num(top),
                num(bottom),
                num(bottom + 14.0),
                (s * 1000.0).round() / 1000.0
            );
        }
    }
}

fn open_svg(out: &mut String, class: &str, height: f64) {
    let (w, h) = (num(WIDTH_PX), num(height));
    let _ = write!(
        out,
        r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
}

/// Operations per client process as bars, the named ones red and linked to the diagram.
pub(crate) fn timeline(run: &Run, window: Window) -> String {
    let scale = TimeScale {
        end_us: run.end_us(),
    };
    let mut rows: Vec<&str> = Vec::new();
    for op in &run.ops {
        if !rows.contains(&op.process.as_str()) {
            rows.push(&op.process);
        }
    }
    let row_px = (600.0 / rows.len().max(1) as f64).clamp(3.0, 14.0);
    let top = 8.0;
    let bottom = top + row_px * rows.len() as f64;
    let mut out = String::new();
    open_svg(&mut out, "timeline", bottom + 24.0);
    let _ = write!(
        out,
        r#"<rect class="window" x="{}" y="{}" width="{}" height="{}"><title>the diagram's window</title></rect>"#,
        num(scale.x(window.from_us)),
        num(top - 4.0),
        num((scale.x(window.to_us) - scale.x(window.from_us)).max(1.0)),
        num(bottom - top + 8.0)
    );
    for p in &run.trace.partitions {
        let end = p.end_us.unwrap_or(scale.end_us);
        let _ = write!(
            out,
            r#"<rect class="band" x="{}" y="{}" width="{}" height="{}"/>"#,
            num(scale.x(p.start_us)),
            num(top),
            num(scale.x(end) - scale.x(p.start_us)),
            num(bottom - top)
        );
    }
    scale.axis(&mut out, top, bottom);
    let row_of = |process: &str| rows.iter().position(|r| *r == process).unwrap_or(0);
    let titled = run.ops.len() <= MAX_TITLED_OPS;
    let label_every = (12.0 / row_px).ceil() as usize;
    for (i, row) in rows.iter().enumerate().step_by(label_every.max(1)) {
        let y = top + row_px * (i as f64 + 0.8);
        let _ = write!(
            out,
            r#"<text class="rlabel" x="{}" y="{}">{}</text>"#,
            num(LEFT_PX - 4.0),
            num(y),
            escape(row)
        );
    }
    for op in &run.ops {
        let y = top + row_px * row_of(&op.process) as f64;
        write_bar(&mut out, op, &scale, y, row_px, titled);
    }
    out.push_str("</svg>");
    out
}

fn write_bar(
    out: &mut String,
    op: &Operation,
    scale: &TimeScale,
    y: f64,
    row_px: f64,
    titled: bool,
) {
    let x1 = scale.x(op.start_us);
    let x2 = scale.x(op.end_us.unwrap_or(scale.end_us)).max(x1 + 1.5);
    let class = match (op.failing, op.outcome) {
        (true, _) => "named",
        (false, Outcome::Ok) => "ok",
        (false, Outcome::Fail) => "fail",
        (false, Outcome::Info) => "info",
    };
    let rect = format!(
        r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}">"#,
        num(x1),
        num(y + 0.5),
        num(x2 - x1),
        num((row_px - 1.0).max(1.0))
    );
    let end = op.end_us.map_or("?".to_owned(), seconds);
    let title = format!(
        "<title>#{} {} on {} {}..{} {:?}: {}</title></rect>",
        op.id,
        escape(&op.process),
        escape(&op.node),
        seconds(op.start_us),
        end,
        op.outcome,
        escape(&op.text)
    );
    if op.failing {
        let _ = write!(out, r##"<a href="#op-{}">{rect}{title}</a>"##, op.id);
    } else if titled {
        out.push_str(&rect);
        out.push_str(&title);
    } else {
        out.push_str(&rect.replace('>', "/>"));
    }
}

/// A point of the latency chart.
#[derive(Clone, Copy, PartialEq)]
enum Point {
    Ok {
        start_us: u64,
        latency_us: u64,
    },
    /// Failed or unknown: drawn on the top edge.
    Other {
        start_us: u64,
        outcome: Outcome,
    },
}

/// The points: each value's stable latency for broadcast, else each operation's latency.
fn latency_points(run: &Run) -> Vec<Point> {
    if let Some(stable) = &run.stable_latencies_us {
        let points = stable.iter().map(|&(start_us, latency_us)| Point::Ok {
            start_us,
            latency_us,
        });
        return points.collect();
    }
    let point = |op: &Operation| match (op.outcome, op.end_us) {
        (Outcome::Ok, Some(end)) => Point::Ok {
            start_us: op.start_us,
            latency_us: end - op.start_us,
        },
        (outcome, _) => Point::Other {
            start_us: op.start_us,
            outcome,
        },
    };
    run.ops.iter().map(point).collect()
}

/// Latency against invocation time (for broadcast, the time until each value was stable:
/// seen by every later read); failed and unknown operations sit on the top edge.
pub(crate) fn latency(run: &Run) -> String {
    let scale = TimeScale {
        end_us: run.end_us(),
    };
    let (top, bottom) = (10.0, 230.0);
    let points = latency_points(run);
    let most = points.iter().filter_map(|p| match p {
        Point::Ok { latency_us, .. } => Some(*latency_us),
        Point::Other { .. } => None,
    });
    let max_ms = (most.max().unwrap_or(1) as f64 / 1000.0).max(1.0);
    let step = tick_step(max_ms, 5.0);
    let max_ms = (max_ms / step).ceil() * step;
    let y = |ms: f64| bottom - ms / max_ms * (bottom - top);
    let mut out = String::new();
    open_svg(&mut out, "latency", bottom + 24.0);
    scale.axis(&mut out, top, bottom);
    for ms in ticks(0.0, max_ms, step) {
        let _ = write!(
            out,
            r#"<line class="tick" x1="{}" y1="{y}" x2="{}" y2="{y}"/><text class="tlabel" x="{}" y="{y}">{} ms</text>"#,
            num(LEFT_PX),
            num(WIDTH_PX - 20.0),
            num(LEFT_PX - 4.0),
            (ms * 1000.0).round() / 1000.0,
            y = num(y(ms))
        );
    }
    let mut seen = HashSet::new();
    for point in points {
        let (class, start_us, ms) = match point {
            Point::Ok {
                start_us,
                latency_us,
            } => ("ok", start_us, latency_us as f64 / 1000.0),
            Point::Other { start_us, outcome } => match outcome {
                Outcome::Fail => ("fail", start_us, max_ms),
                _ => ("info", start_us, max_ms),
            },
        };
        let (cx, cy) = (num(scale.x(start_us)), num(y(ms)));
        if seen.insert((cx.clone(), cy.clone(), class)) {
            let _ = write!(
                out,
                r#"<circle class="{class}" cx="{cx}" cy="{cy}" r="2"/>"#
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Messages sent by each process over the whole run, stacked by type; clients summed.
pub(crate) fn message_counts(run: &Run, palette: &Palette) -> String {
    // sender -> class -> count
    let mut counts: BTreeMap<(u8, u64, String), BTreeMap<usize, usize>> = BTreeMap::new();
    for m in &run.trace.messages {
        let key = match (is_client(&m.src), m.src.strip_prefix('n').map(str::parse)) {
            (true, _) => (2, 0, "clients".to_owned()),
            (false, Some(Ok(n))) => (0, n, m.src.clone()),
            _ => (1, 0, m.src.clone()),
        };
        *counts
            .entry(key)
            .or_default()
            .entry(palette.class(&m.kind))
            .or_default() += 1;
    }
    let most = counts
        .values()
        .map(|c| c.values().sum::<usize>())
        .max()
        .unwrap_or(1);
    let row_px = 14.0;
    let mut out = String::new();
    open_svg(
        &mut out,
        "counts",
        10.0 + row_px * counts.len() as f64 + 10.0,
    );
    let scale = (WIDTH_PX - LEFT_PX - 90.0) / most.max(1) as f64;
    for (row, ((_, _, sender), classes)) in counts.iter().enumerate() {
        let y = 10.0 + row_px * row as f64;
        let _ = write!(
            out,
            r#"<text class="rlabel" x="{}" y="{}">{}</text>"#,
            num(LEFT_PX - 4.0),
            num(y + 10.0),
            escape(sender)
        );
        let mut x = LEFT_PX;
        for (&class, &n) in classes {
            let w = n as f64 * scale;
            let _ = write!(
                out,
                r#"<rect class="f{class}" x="{}" y="{}" width="{}" height="{}"><title>{} {}: {n}</title></rect>"#,
                num(x),
                num(y + 1.0),
                num(w.max(0.5)),
                num(row_px - 2.0),
                escape(sender),
                escape(&kind_name(palette, class))
            );
            x += w;
        }
        let total: usize = classes.values().sum();
        let _ = write!(
            out,
            r#"<text class="count" x="{}" y="{}">{total}</text>"#,
            num(x + 4.0),
            num(y + 10.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// The types sharing a colour class, for hover text.
fn kind_name(palette: &Palette, class: usize) -> String {
    let names: Vec<&str> = palette
        .kinds
        .iter()
        .filter(|(k, _)| palette.class(k) == class)
        .map(|(k, _)| k.as_str())
        .collect();
    names.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::draw::model::Trace;

    fn sample() -> Run {
        let text = concat!(
            r#"{"time_us":0,"sent_us":0,"event":"deliver","src":"c1","dest":"n0","body":{"type":"read","msg_id":1}}"#,
            "\n",
            r#"{"time_us":5000,"sent_us":4000,"event":"deliver","src":"n0","dest":"n1","body":{"type":"gossip"}}"#,
            "\n",
            r#"{"time_us":9000,"sent_us":9000,"event":"deliver","src":"n0","dest":"c1","body":{"type":"read_ok","in_reply_to":1}}"#,
            "\n",
            r#"{"time_us":9500,"sent_us":9500,"event":"deliver","src":"c2","dest":"n1","body":{"type":"read","msg_id":1}}"#,
        );
        Run::from_trace("t", Trace::parse(text))
    }

    /// One bar per operation; a named one is linked to its mark in the diagram.
    #[test]
    fn timeline_has_a_bar_per_operation_and_links_named_ones() {
        let mut run = sample();
        run.ops[1].failing = true;
        let svg = timeline(&run, Window::new(0, 5000));
        assert_eq!(svg.matches("<rect class=\"ok\"").count(), 1);
        assert_eq!(svg.matches("<rect class=\"named\"").count(), 1);
        assert!(svg.contains(r##"<a href="#op-1">"##));
    }

    /// Counts per sender, clients summed, with totals.
    #[test]
    fn message_counts_per_sender() {
        let run = sample();
        let svg = message_counts(&run, &Palette::new(&run.trace.messages));
        assert!(svg.contains(">clients</text>") && svg.contains(">n0</text>"));
        assert!(svg.contains("<title>n0 gossip: 1</title>"), "{svg}");
        assert!(svg.contains(">2</text>"), "n0 sent two messages: {svg}");
        let latency = latency(&run);
        assert_eq!(latency.matches("<circle").count(), 2);
    }
}
