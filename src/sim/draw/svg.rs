//! Small markup helpers shared by the drawings: escaping, number formatting, the colour of
//! each message type, and time axes.

use std::collections::HashMap;
use std::fmt::Write;

use super::model::Message;

/// Colours for message types, most frequent type first; later types share the last one.
const COLOURS: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#d62728", "#393b79", "#637939", "#7f7f7f",
];

/// `text` with `&`, `<`, `>` and `"` escaped, for element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with one decimal, without a trailing `.0`.
pub(crate) fn num(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{:.1}", tenths as f64 / 10.0)
    }
}

/// Virtual microseconds as seconds, to the millisecond: `12.345s`.
pub(crate) fn seconds(us: u64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// Message types in order of frequency, each with its colour class number.
#[derive(Debug, Clone)]
pub(crate) struct Palette {
    /// (type, message count), most frequent first.
    pub(crate) kinds: Vec<(String, usize)>,
    index: HashMap<String, usize>,
}

impl Palette {
    /// The palette of all the messages of a run.
    pub(crate) fn new(messages: &[Message]) -> Palette {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for m in messages {
            *counts.entry(&m.kind).or_default() += 1;
        }
        let mut kinds: Vec<(String, usize)> =
            counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let index = kinds
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i.min(COLOURS.len() - 1)))
            .collect();
        Palette { kinds, index }
    }

    /// The colour class number of a type.
    pub(crate) fn class(&self, kind: &str) -> usize {
        self.index.get(kind).copied().unwrap_or(COLOURS.len() - 1)
    }

    /// The colour of a class number.
    pub(crate) fn colour(class: usize) -> &'static str {
        COLOURS[class.min(COLOURS.len() - 1)]
    }

    /// CSS rules `.mN` (stroke and arrowhead) and `.fN` (fill) for every colour.
    pub(crate) fn css() -> String {
        let mut css = String::new();
        for (i, colour) in COLOURS.iter().enumerate() {
            let _ = writeln!(
                css,
                ".m{i}{{stroke:{colour};marker-end:url(#a{i})}}.f{i}{{fill:{colour}}}"
            );
        }
        css
    }

    /// SVG `<defs>` with one arrowhead marker per colour.
    pub(crate) fn markers() -> String {
        let mut defs = String::from("<defs>");
        for (i, colour) in COLOURS.iter().enumerate() {
            let _ = write!(
                defs,
                r#"<marker id="a{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="{colour}"/></marker>"#
            );
        }
        defs.push_str("</defs>");
        defs
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks over `span`.
pub(crate) fn tick_step(span: f64, target: f64) -> f64 {
    let raw = (span / target.max(1.0)).max(1e-9);
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw);
    step.unwrap_or(10.0 * power)
}

/// The multiples of `step` in `[from, to]`.
pub(crate) fn ticks(from: f64, to: f64, step: f64) -> Vec<f64> {
    let first = (from / step).ceil() as i64;
    let last = (to / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_numbers_and_ticks() {
        assert_eq!(
            escape(r#"<a href="x">&</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(
            (num(3.0), num(2.25), num(-1.04)),
            ("3".into(), "2.3".into(), "-1".into())
        );
        assert_eq!(seconds(12_345_678), "12.346s");
        assert_eq!(tick_step(2000.0, 10.0), 200.0);
        assert_eq!(tick_step(7.0, 10.0), 1.0);
        assert_eq!(ticks(150.0, 700.0, 200.0), vec![200.0, 400.0, 600.0]);
    }
}
