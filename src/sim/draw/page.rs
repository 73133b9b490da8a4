//! The HTML page of one run, and the index page of a suite: markup and style around the
//! drawings. Self-contained: inline CSS and SVG, no script, nothing fetched.

use std::fmt::Write;

use super::diagram::{arrows, svg as diagram_svg, Layout};
use super::model::{Operation, Run, Source};
use super::plots;
use super::svg::{escape, seconds, Palette};
use super::Window;

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.valid{background:#2a7d2a}.invalid{background:#c62828}.unchecked{background:#777}
ul.reasons{margin:6px 0;padding-left:20px;font-family:ui-monospace,monospace;font-size:12.5px}
ul.reasons li:first-child{font-weight:600}
code.cmd{display:block;background:#f4f4f4;border:1px solid #ddd;padding:6px 8px;margin:4px 0;
 font-size:13px;user-select:all;white-space:pre-wrap}
.note{color:#555;font-size:13px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}tr.named:target{background:#fde0e0}
.legend span{display:inline-block;margin:2px 10px 2px 0}.legend i{display:inline-block;
 width:22px;height:4px;vertical-align:middle;margin-right:4px}
svg{display:block;margin:4px 0}svg text{font:11px system-ui,sans-serif;fill:#333}
.tick{stroke:#eee}.tlabel,.rlabel{text-anchor:end;dominant-baseline:middle;fill:#777}
.xlabel{text-anchor:middle;fill:#777}.col{stroke:#bbb;stroke-width:1}.col.node{stroke:#444}
.col.service{stroke:#7a5;stroke-dasharray:6 3}.col.client{stroke:#ccc}
.label{text-anchor:middle;font-weight:600}.label.service{fill:#585}.clabel{fill:#888;font-size:9px}
.msgs line{stroke-width:1.3;opacity:.85}.msgs line.drop{stroke-dasharray:4 3;opacity:1}
.cross{stroke:#d00;stroke-width:2.2;fill:none}
.band{fill:#f44;opacity:.07}.grudge{fill:#f44;opacity:.28}.bandlabel{fill:#c33;font-weight:600}
.opmark circle{fill:none;stroke:#d00;stroke-width:3}
.opmark text{fill:#d00;font-weight:700;paint-order:stroke;stroke:#fff;stroke-width:3px}
details summary{cursor:pointer;color:#36c;font-size:13px}
.opmark:target circle{fill:#d00;fill-opacity:.3}
.timeline .ok,.latency .ok{fill:#5a9}.timeline .fail,.latency .fail{fill:#e90}
.timeline .info,.latency .info{fill:#aaa}.timeline .named{fill:#d00;stroke:#600;stroke-width:1}
.window{fill:#36c;opacity:.09}.count{fill:#555}
"#;

/// Reasons shown before the rest fold away.
const SHOWN_REASONS: usize = 4;
/// Named operations listed before the rest fold away.
const SHOWN_NAMED: usize = 8;

/// The page of one run, its diagram drawn over `window`; `cut` is the window asked for when
/// it held too many messages and was shortened.
pub(crate) fn run_page(run: &Run, window: Window, cut: Option<Window>) -> String {
    let palette = Palette::new(&run.trace.messages);
    let layout = Layout::new(run, window);
    let mut out = String::with_capacity(1 << 20);
    let title = format!(
        "{} seed {}",
        run.name,
        run.seed.map_or("?".into(), |s| s.to_string())
    );
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}{}</style></head><body>",
        escape(&title),
        Palette::css()
    );
    write_header(&mut out, run);
    write_named_ops(&mut out, run, window);
    out.push_str("<h2>Operations per client</h2><p class=\"note\">Green ok, orange failed, grey unknown; red: named by the checker (click to find it in the diagram). The blue span is the diagram's window; red shading, partitions.</p>");
    out.push_str(&plots::timeline(run, window));
    write_diagram(&mut out, run, &layout, &palette, cut);
    out.push_str(match run.stable_latencies_us {
        Some(_) => "<h2>Stable latency over time</h2><p class=\"note\">Each broadcast value at its invocation time: how long until every later read saw it (as Maelstrom measures it).</p>",
        None => "<h2>Latency over time</h2><p class=\"note\">Each operation at its invocation time; failed and unknown ones on the top edge.</p>",
    });
    out.push_str(&plots::latency(run));
    out.push_str("<h2>Messages sent per process, by type</h2>");
    write_legend(&mut out, &palette);
    out.push_str(&plots::message_counts(run, &palette));
    out.push_str("</body></html>\n");
    out
}

fn write_header(out: &mut String, run: &Run) {
    let (class, word) = match run.valid {
        Some(true) => ("valid", "valid"),
        Some(false) => ("invalid", "INVALID"),
        None if run.source == Source::Records => ("unchecked", "recorded run, not checked"),
        None => ("unchecked", "not checked"),
    };
    let seed = run.seed.map_or(String::new(), |s| format!(", seed {s}"));
    let _ = write!(
        out,
        "<h1>{}{seed} <span class=\"verdict {class}\">{word}</span></h1><ul class=\"reasons\">",
        escape(&run.name)
    );
    let item = |r: &String| format!("<li>{}</li>", escape(r));
    let shown: String = run.reasons.iter().take(SHOWN_REASONS).map(item).collect();
    out.push_str(&shown);
    out.push_str("</ul>");
    if run.reasons.len() > SHOWN_REASONS {
        let rest: String = run.reasons.iter().skip(SHOWN_REASONS).map(item).collect();
        let _ = write!(
            out,
            "<details><summary>{} more</summary><ul class=\"reasons\">{rest}</ul></details>",
            run.reasons.len() - SHOWN_REASONS
        );
    }
    let _ = write!(out, "<p>{}</p>", escape(&run.figures));
    if let Some(command) = &run.command {
        let _ = write!(
            out,
            "<p class=\"note\">Rerun this row:</p><code class=\"cmd\">{}</code>",
            escape(command)
        );
    }
}

/// The operations the checker named: a table whose rows link to their marks in the diagram,
/// or give the window to draw them in when they are outside it.
fn write_named_ops(out: &mut String, run: &Run, window: Window) {
    let named: Vec<&Operation> = run.ops.iter().filter(|op| op.failing).collect();
    if named.is_empty() {
        return;
    }
    const HEAD: &str = "<table><tr><th>#</th><th>process</th><th>node</th><th>invoked</th><th>completed</th><th>operation</th><th>in the diagram</th></tr>";
    let _ = write!(
        out,
        "<h2>Operations the checker named ({})</h2>{HEAD}",
        named.len()
    );
    for (i, op) in named.iter().enumerate() {
        if i == SHOWN_NAMED {
            let _ = write!(
                out,
                "</table><details><summary>{} more</summary>{HEAD}",
                named.len() - SHOWN_NAMED
            );
        }
        write_named_row(out, op, window);
    }
    out.push_str("</table>");
    if named.len() > SHOWN_NAMED {
        out.push_str("</details>");
    }
}

fn write_named_row(out: &mut String, op: &Operation, window: Window) {
    let place = if window.contains(op.start_us) {
        format!("<a href=\"#op-{}\">show</a>", op.id)
    } else {
        let around = Window::around(op.start_us);
        format!(
            "<span id=\"op-{}\">outside; <code>--report-window {}</code></span>",
            op.id,
            around.flag()
        )
    };
    let end = op.end_us.map_or("-".to_owned(), seconds);
    let _ = write!(
        out,
        "<tr class=\"named\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{end}</td><td>{}</td><td>{place}</td></tr>",
        op.id,
        escape(&op.process),
        escape(&op.node),
        seconds(op.start_us),
        escape(&op.text)
    );
}

fn write_diagram(
    out: &mut String,
    run: &Run,
    layout: &Layout,
    palette: &Palette,
    cut: Option<Window>,
) {
    let shown = arrows(&run.trace.messages, layout).len();
    let w = layout.window;
    let _ = write!(
        out,
        "<h2>Messages from {} to {}</h2><p class=\"note\">{shown} of {} messages, sent top to delivered bottom; dashed and crossed out: dropped. Hover an arrow for its body. Another window: <code>--report-window {}</code>.</p>",
        seconds(w.from_us),
        seconds(w.to_us),
        run.trace.messages.len(),
        w.flag()
    );
    if let Some(asked) = cut {
        let _ = write!(
            out,
            "<p class=\"note\">Shortened from {}..{}, which holds more than {} messages.</p>",
            seconds(asked.from_us),
            seconds(asked.to_us),
            super::MAX_ARROWS
        );
    }
    write_legend(out, palette);
    out.push_str(&diagram_svg(run, layout, palette));
}

fn write_legend(out: &mut String, palette: &Palette) {
    out.push_str("<p class=\"legend\">");
    for (kind, count) in &palette.kinds {
        let colour = Palette::colour(palette.class(kind));
        let _ = write!(
            out,
            "<span><i style=\"background:{colour}\"></i>{} ({count})</span>",
            escape(kind)
        );
    }
    out.push_str("</p>");
}

/// One row of the suite's index page.
#[derive(Debug, Clone)]
pub(crate) struct IndexRow {
    /// Link target, relative to the index.
    pub(crate) href: String,
    /// The suite table's text row.
    pub(crate) row: String,
    pub(crate) valid: bool,
}

/// The suite's index: its table, each row linking to its page.
pub(crate) fn index_page(header: &str, rows: &[IndexRow]) -> String {
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>suite</title><style>{STYLE}pre{{margin:0}}</style></head><body><h1>Suite</h1><pre>{}</pre>",
        escape(header)
    );
    for row in rows {
        let class = if row.valid {
            ""
        } else {
            " style=\"color:#c62828\""
        };
        let _ = write!(
            out,
            "<pre{class}><a href=\"{}\">{}</a></pre>",
            escape(&row.href),
            escape(&row.row)
        );
    }
    out.push_str("</body></html>\n");
    out
}
