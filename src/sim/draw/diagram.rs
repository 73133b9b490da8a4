//! The space-time diagram: one vertical line per process (nodes, then services, then
//! clients), time downward, one arrow per message from its send to its delivery, dropped
//! messages dashed and crossed out, partitions shaded while they held, and the operations the
//! checker named marked where they started.
//!
//! Geometry ([`Layout`], [`arrows`]) is computed apart from markup ([`svg`]) so that it can
//! be tested. Only a window of time is drawn ([`Window`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use super::model::{Message, Run};
use super::svg::{escape, num, seconds, tick_step, ticks, Palette};
use super::Window;

/// Height the window is drawn at, pixels (a very long or short window is clamped).
const TARGET_HEIGHT_PX: f64 = 2400.0;
/// Space above the first instant, for column labels.
const TOP_PX: f64 = 56.0;
/// Space left of the first column, for time labels.
const LEFT_PX: f64 = 76.0;
/// A message delivered at once still slopes down this much, so its direction shows.
pub(crate) const MIN_DROP_PX: f64 = 5.0;
/// Service names, in the order their columns are drawn.
const SERVICES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Which kind of process a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    Node,
    Service,
    Client,
}

/// One vertical line.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) id: String,
    pub(crate) group: Group,
    pub(crate) x: f64,
    /// A client standing beside the one node it talks to.
    homed: bool,
}

fn last_homed(columns: &[Column]) -> bool {
    columns.last().is_some_and(|c| c.homed)
}

/// The columns in drawing order: each node followed by its own clients, then the services,
/// then the other clients; with whether each is a homed client.
fn column_order(run: &Run, window: Window) -> Vec<(Group, String, bool)> {
    let mut ids: BTreeSet<(Group, u64, String)> = BTreeSet::new();
    // client -> the nodes it talks to, over the whole run
    let mut peers: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for m in &run.trace.messages {
        let inside = window.overlaps(m.sent_us, m.time_us);
        for (id, other) in [(&m.src, &m.dest), (&m.dest, &m.src)] {
            let key = column_key(id);
            if key.0 == Group::Client {
                peers.entry(id).or_default().insert(other);
            }
            if key.0 == Group::Node || inside {
                ids.insert(key);
            }
        }
    }
    let home = |id: &str| {
        let nodes = peers.get(id)?;
        let only = nodes.first().filter(|_| nodes.len() == 1)?;
        (column_key(only).0 == Group::Node).then_some(*only)
    };
    let mut order = Vec::new();
    for (group, _, id) in ids.iter().filter(|k| k.0 == Group::Node) {
        order.push((*group, id.clone(), false));
        let own = ids
            .iter()
            .filter(|k| k.0 == Group::Client && home(&k.2) == Some(id));
        order.extend(own.map(|k| (k.0, k.2.clone(), true)));
    }
    let rest = ids.iter().filter(|k| match k.0 {
        Group::Node => false,
        Group::Service => true,
        Group::Client => home(&k.2).is_none(),
    });
    order.extend(rest.map(|k| (k.0, k.2.clone(), false)));
    order
}

/// Where everything goes: the columns, and the map from time to height.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) columns: Vec<Column>,
    index: HashMap<String, usize>,
    pub(crate) window: Window,
    px_per_us: f64,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

impl Layout {
    /// The layout of `run`'s messages inside `window`: every node has a column, services and
    /// clients only when they speak inside the window. A client that only ever talks to one
    /// node stands just right of it, so its requests are short arrows; the others stand at
    /// the right, after the services.
    pub(crate) fn new(run: &Run, window: Window) -> Layout {
        let order = column_order(run, window);
        let node_count = order.iter().filter(|c| c.0 == Group::Node).count().max(1);
        let homed = order.iter().filter(|c| c.2).count();
        let node_gap = ((1250.0 - 9.0 * homed as f64) / node_count as f64).clamp(30.0, 200.0);
        let mut columns: Vec<Column> = Vec::new();
        let (mut x, mut last_node) = (LEFT_PX, f64::NEG_INFINITY);
        for (group, id, homed) in order {
            if let Some(last) = columns.last() {
                x = match (last.group, group, homed) {
                    (_, Group::Node, _) => (last_node + node_gap).max(x + 26.0),
                    (_, Group::Client, true) => x + 9.0,
                    (Group::Service, Group::Service, _) => x + 70.0,
                    (Group::Client, Group::Client, false) if !last_homed(&columns) => x + 12.0,
                    _ => x + 60.0,
                };
            }
            if group == Group::Node {
                last_node = x;
            }
            columns.push(Column {
                id,
                group,
                x,
                homed,
            });
        }
        let span_us = window.to_us.saturating_sub(window.from_us).max(1) as f64;
        let px_per_us = (TARGET_HEIGHT_PX / span_us).clamp(0.000_2, 0.05);
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Layout {
            columns,
            index,
            window,
            px_per_us,
            width: x + 300.0, // room for the labels of marks and partitions at the right
            height: TOP_PX + span_us * px_per_us + 30.0,
        }
    }

    /// The height of virtual time `us` (above the top or below the bottom when outside the
    /// window).
    pub(crate) fn y(&self, us: u64) -> f64 {
        TOP_PX + (us as f64 - self.window.from_us as f64) * self.px_per_us
    }

    /// The x of a process's column.
    pub(crate) fn x(&self, id: &str) -> Option<f64> {
        self.index.get(id).map(|&i| self.columns[i].x)
    }

    /// The bottom of the window.
    fn bottom(&self) -> f64 {
        self.y(self.window.to_us)
    }
}

/// Sort key of a column: group, then the number in the id (`n10` after `n9`), then the id.
/// Nodes are `n` and a number; anything else that is not a service is a client.
fn column_key(id: &str) -> (Group, u64, String) {
    let number = |rest: &str| rest.parse::<u64>().ok();
    if let Some(i) = SERVICES.iter().position(|s| *s == id) {
        return (Group::Service, i as u64, id.to_owned());
    }
    match id.strip_prefix('n').and_then(number) {
        Some(n) => (Group::Node, n, id.to_owned()),
        None => {
            let n = id.get(1..).and_then(number).unwrap_or(u64::MAX);
            (Group::Client, n, id.to_owned())
        }
    }
}

/// One message's arrow.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arrow {
    /// Index of the message in the trace.
    pub(crate) message: usize,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
    pub(crate) x2: f64,
    pub(crate) y2: f64,
    pub(crate) dropped: bool,
}

/// One arrow for every message whose flight overlaps the window, in trace order.
pub(crate) fn arrows(messages: &[Message], layout: &Layout) -> Vec<Arrow> {
    let window = layout.window;
    messages
        .iter()
        .enumerate()
        .filter(|(_, m)| window.overlaps(m.sent_us, m.time_us))
        .filter_map(|(i, m)| {
            let y1 = layout.y(m.sent_us);
            Some(Arrow {
                message: i,
                x1: layout.x(&m.src)?,
                y1,
                x2: layout.x(&m.dest)?,
                y2: layout.y(m.time_us).max(y1 + MIN_DROP_PX),
                dropped: m.dropped,
            })
        })
        .collect()
}

/// A shaded band per partition while it held, clipped to the window: (top, bottom, index).
pub(crate) fn partition_bands(run: &Run, layout: &Layout) -> Vec<(f64, f64, usize)> {
    let window = layout.window;
    let run_end = run.end_us().max(window.to_us);
    run.trace
        .partitions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let end = p.end_us.unwrap_or(run_end);
            let from = p.start_us.max(window.from_us);
            let to = end.min(window.to_us);
            (from < to).then(|| (layout.y(from), layout.y(to), i))
        })
        .collect()
}

/// The diagram as an `<svg>` element.
pub(crate) fn svg(run: &Run, layout: &Layout, palette: &Palette) -> String {
    let mut out = String::new();
    let (w, h) = (num(layout.width), num(layout.height));
    let _ = write!(
        out,
        r#"<svg class="diagram" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    out.push_str(&Palette::markers());
    write_bands(&mut out, run, layout);
    write_time_axis(&mut out, layout);
    write_columns(&mut out, layout);
    write_arrows(&mut out, run, layout, palette);
    write_op_marks(&mut out, run, layout);
    out.push_str("</svg>");
    out
}

fn write_bands(out: &mut String, run: &Run, layout: &Layout) {
    for (top, bottom, i) in partition_bands(run, layout) {
        let p = &run.trace.partitions[i];
        let shape = p.shape.as_deref().unwrap_or("partition");
        let end = p.end_us.map_or("end".to_owned(), seconds);
        let _ = write!(
            out,
            r#"<rect class="band" x="0" y="{}" width="{}" height="{}"><title>{} {}..{}</title></rect>"#,
            num(top),
            num(layout.width),
            num(bottom - top),
            escape(shape),
            seconds(p.start_us),
            end
        );
        let grudge: Vec<String> = p
            .grudge
            .iter()
            .map(|(node, from)| format!("{node} drops {}", from.join(",")))
            .collect();
        let _ = write!(
            out,
            r#"<text class="bandlabel" x="{}" y="{}">{}</text><text class="bandlabel" x="{}" y="{}">{}</text>"#,
            num(layout.width - 290.0),
            num(top + 14.0),
            escape(shape),
            num(layout.width - 290.0),
            num(top + 28.0),
            escape(&shorten(&grudge.join("; "), 40))
        );
        for (node, from) in &p.grudge {
            let Some(x) = layout.x(node) else { continue };
            let _ = write!(
                out,
                r#"<rect class="grudge" x="{}" y="{}" width="10" height="{}"><title>{} drops messages from {}</title></rect>"#,
                num(x - 5.0),
                num(top),
                num(bottom - top),
                escape(node),
                escape(&from.join(", "))
            );
        }
    }
}

fn write_time_axis(out: &mut String, layout: &Layout) {
    let w = layout.window;
    let span_ms = (w.to_us - w.from_us) as f64 / 1000.0;
    let step_ms = tick_step(span_ms, span_ms * layout.px_per_us * 1000.0 / 80.0);
    let from_ms = w.from_us as f64 / 1000.0;
    for ms in ticks(from_ms, from_ms + span_ms, step_ms) {
        let y = num(layout.y((ms * 1000.0) as u64));
        let _ = write!(
            out,
            r#"<line class="tick" x1="{}" y1="{y}" x2="{}" y2="{y}"/><text class="tlabel" x="{}" y="{y}">{:.3}s</text>"#,
            num(LEFT_PX - 20.0),
            num(layout.width),
            num(LEFT_PX - 24.0),
            ms / 1000.0
        );
    }
}

fn write_columns(out: &mut String, layout: &Layout) {
    let bottom = num(layout.bottom());
    for c in &layout.columns {
        let x = num(c.x);
        let class = match c.group {
            Group::Node => "node",
            Group::Service => "service",
            Group::Client => "client",
        };
        let label = escape(&c.id);
        let _ = write!(
            out,
            r#"<line class="col {class}" x1="{x}" y1="{}" x2="{x}" y2="{bottom}"><title>{label}</title></line>"#,
            num(TOP_PX - 6.0)
        );
        if c.homed {
            continue; // beside its node, whose label names it well enough; hover shows its id
        }
        if c.group == Group::Client {
            let _ = write!(
                out,
                r#"<text class="clabel" transform="translate({x},{}) rotate(-60)">{label}</text>"#,
                num(TOP_PX - 10.0)
            );
        } else {
            let _ = write!(
                out,
                r#"<text class="label {class}" x="{x}" y="{}">{label}</text>"#,
                num(TOP_PX - 12.0)
            );
        }
    }
}

fn write_arrows(out: &mut String, run: &Run, layout: &Layout, palette: &Palette) {
    out.push_str(r#"<g class="msgs">"#);
    for a in arrows(&run.trace.messages, layout) {
        let m = &run.trace.messages[a.message];
        let class = palette.class(&m.kind);
        let drop = if a.dropped { " drop" } else { "" };
        let _ = write!(
            out,
            r#"<line class="m{class}{drop}" x1="{}" y1="{}" x2="{}" y2="{}"><title>{} {} &#8594; {} {}..{}{} {}</title></line>"#,
            num(a.x1),
            num(a.y1),
            num(a.x2),
            num(a.y2),
            escape(&m.kind),
            escape(&m.src),
            escape(&m.dest),
            seconds(m.sent_us),
            seconds(m.time_us),
            if a.dropped { " DROPPED" } else { "" },
            escape(&m.excerpt)
        );
        if a.dropped {
            let (x, y) = (a.x2, a.y2);
            let _ = write!(
                out,
                r#"<path class="cross" d="M{} {}l10 10m0-10l-10 10"/>"#,
                num(x - 5.0),
                num(y - 5.0)
            );
        }
    }
    out.push_str("</g>");
}

/// A ring where each named operation was invoked, on its node's line, with the id the page's
/// links point to.
fn write_op_marks(out: &mut String, run: &Run, layout: &Layout) {
    for op in run.ops.iter().filter(|op| op.failing) {
        if !layout.window.contains(op.start_us) {
            continue;
        }
        let Some(x) = layout.x(&op.node) else {
            continue;
        };
        let y = layout.y(op.start_us);
        let _ = write!(
            out,
            r#"<g id="op-{}" class="opmark"><circle cx="{}" cy="{}" r="9"/><text x="{}" y="{}">#{} {} {}</text><title>{}</title></g>"#,
            op.id,
            num(x),
            num(y),
            num(x + 12.0),
            num(y + 4.0),
            op.id,
            escape(&op.process),
            escape(&shorten(&op.text, 32)),
            escape(&op.text)
        );
    }
}

/// At most `chars` characters of `text`, with `...` when cut.
fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::draw::model::Trace;

    fn run(text: &str) -> Run {
        Run::from_trace("t", Trace::parse(text))
    }

    fn line(sent: u64, time: u64, event: &str, src: &str, dest: &str, kind: &str) -> String {
        format!(
            r#"{{"time_us":{time},"sent_us":{sent},"event":"{event}","src":"{src}","dest":"{dest}","body":{{"type":"{kind}"}}}}"#
        )
    }

    /// A hand-written trace with a partition (nemesis events in the agreed format).
    fn sample() -> Run {
        let lines = [
            line(0, 0, "deliver", "c1", "n0", "broadcast"),
            line(0, 0, "deliver", "c0-topology", "n0", "topology"),
            line(0, 100_000, "deliver", "n0", "n1", "gossip"),
            line(0, 100_000, "deliver", "n0", "lin-kv", "read"),
            r#"{"time_us":150000,"event":"nemesis","action":"start-partition","shape":"majorities-ring","grudge":{"n1":["n0"],"n0":["n2"]}}"#.into(),
            line(200_000, 300_000, "drop", "n0", "n1", "gossip"),
            line(250_000, 250_000, "drop", "n2", "n1", "gossip"),
            line(400_000, 400_000, "deliver", "n1", "c1", "broadcast_ok"),
            r#"{"time_us":700000,"event":"nemesis","action":"stop-partition"}"#.into(),
            line(2_900_000, 3_100_000, "deliver", "n2", "n0", "gossip"),
        ];
        run(&lines.join("\n"))
    }

    /// Every message in the window has exactly one arrow, and arrows go down in time.
    #[test]
    fn one_arrow_per_message_in_the_window_pointing_down() {
        let run = sample();
        let window = Window {
            from_us: 0,
            to_us: 1_000_000,
        };
        let layout = Layout::new(&run, window);
        let arrows = arrows(&run.trace.messages, &layout);
        let drawn: Vec<usize> = arrows.iter().map(|a| a.message).collect();
        assert_eq!(
            drawn,
            [0, 1, 2, 3, 4, 5, 6],
            "the gossip at 2.9 s is outside"
        );
        for a in &arrows {
            let m = &run.trace.messages[a.message];
            assert!(a.y2 > a.y1, "{m:?} does not go down: {a:?}");
            assert_eq!(a.x1, layout.x(&m.src).unwrap());
            assert_eq!(a.x2, layout.x(&m.dest).unwrap());
            let latency_px = a.y2 - a.y1;
            let expected = (m.time_us - m.sent_us) as f64 * layout.px_per_us;
            assert!(
                (latency_px - expected.max(MIN_DROP_PX)).abs() < 1e-6,
                "{a:?}"
            );
        }
        // Nodes in numeric order, c1 (which only talks to n0 and n1) not homed: services,
        // then clients at the right.
        let ids: Vec<&str> = layout.columns.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["n0", "c0-topology", "n1", "n2", "lin-kv", "c1"]);
    }

    /// A message in flight across the window's edge still gets its arrow; one wholly outside
    /// does not.
    #[test]
    fn messages_crossing_the_window_edge_are_drawn() {
        let run = sample();
        let window = Window {
            from_us: 3_000_000,
            to_us: 4_000_000,
        };
        let layout = Layout::new(&run, window);
        let arrows = arrows(&run.trace.messages, &layout);
        assert_eq!(arrows.len(), 1);
        assert!(arrows[0].y1 < layout.y(window.from_us) && arrows[0].y2 > arrows[0].y1);
        assert!(
            layout.x("c1").is_none(),
            "clients silent in the window get no column"
        );
    }

    /// A dropped message is marked: dashed and crossed out where it was lost.
    #[test]
    fn dropped_messages_are_marked() {
        let run = sample();
        let layout = Layout::new(&run, Window::new(0, 1_000_000));
        let svg = svg(&run, &layout, &Palette::new(&run.trace.messages));
        let dropped = arrows(&run.trace.messages, &layout);
        let dropped: Vec<&Arrow> = dropped.iter().filter(|a| a.dropped).collect();
        assert_eq!(dropped.len(), 2);
        assert_eq!(svg.matches(" drop\"").count(), 2);
        assert_eq!(svg.matches("class=\"cross\"").count(), 2);
        for a in dropped {
            let cross = format!("d=\"M{} {}l10 10", num(a.x2 - 5.0), num(a.y2 - 5.0));
            assert!(svg.contains(&cross), "no cross at the end of {a:?}");
        }
    }

    /// A partition band spans the time it held, with its shape; its grudge shades receivers.
    #[test]
    fn partition_band_spans_its_time() {
        let run = sample();
        let layout = Layout::new(&run, Window::new(0, 1_000_000));
        let bands = partition_bands(&run, &layout);
        assert_eq!(bands, vec![(layout.y(150_000), layout.y(700_000), 0)]);
        let svg = svg(&run, &layout, &Palette::new(&run.trace.messages));
        assert!(svg.contains(">majorities-ring</text>"));
        assert!(svg.contains("n1 drops messages from n0"));
        assert_eq!(svg.matches("class=\"grudge\"").count(), 2);
        // Clipped to a window that starts inside it.
        let late = Layout::new(&run, Window::new(500_000, 1_000_000));
        let bands = partition_bands(&run, &late);
        assert_eq!(bands, vec![(late.y(500_000), late.y(700_000), 0)]);
    }
}
