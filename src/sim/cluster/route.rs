//! Routing: what happens to each line a node writes, and to each service request.
//!
//! A line is scanned once with the core's envelope scanner, checked the way Maelstrom checks
//! it (a valid message, a `src` and a destination that exist) and sent on: to a
//! node or a service after a latency, to a client at once. Anything else becomes a protocol
//! error. Services answer here too, when a request lands. The event loop, timers and the
//! public API are in the parent module.

use serde::Serialize;
use serde_json::Value;

use super::{ClientMessage, Cluster, INIT_CLIENT, MAX_PROTOCOL_ERRORS};
use crate::handler::Handler;
use crate::message::Message;
use crate::sim::queue::Event;
use crate::sim::services::ServiceId;
use crate::sim::trace::TraceEvent;
use crate::time::Instant;

/// Longest excerpt of an offending line quoted in a protocol error.
const QUOTE_BYTES: usize = 200;

/// Where a line a node wrote is going.
enum Dest {
    Node(usize),
    Service(ServiceId),
    InitClient,
    Client,
    Unknown,
}

/// Whom a line a node wrote is from, by its `src`.
#[derive(Clone, Copy)]
enum Sender {
    Node(usize),
    Client,
}

/// An envelope to serialise (client requests, service replies, `init`).
#[derive(Serialize)]
struct Envelope<'a> {
    src: &'a str,
    dest: &'a str,
    body: &'a Value,
}

impl<H: Handler> Cluster<H> {
    /// Takes the node's output and routes it line by line.
    pub(super) fn route_output(&mut self, node: usize, out: &mut Vec<ClientMessage>) {
        let sim = &mut self.nodes[node];
        if sim.node.output().is_empty() {
            return;
        }
        if sim.unread {
            // Maelstrom stopped reading this node at its protocol error.
            sim.node.clear_output();
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(sim.node.output());
        sim.node.clear_output();
        for line in scratch.split(|&byte| byte == b'\n') {
            if !line.is_empty() && !self.nodes[node].unread {
                self.route_line(node, line, out);
            }
        }
        self.scratch = scratch;
    }

    /// Checks one line a node wrote against the protocol and sends it on its way.
    fn route_line(&mut self, node: usize, line: &[u8], out: &mut Vec<ClientMessage>) {
        let Ok(text) = std::str::from_utf8(line) else {
            let quoted = String::from_utf8_lossy(line).into_owned();
            return self.protocol_error(node, "wrote a line that is not UTF-8", &quoted);
        };
        let msg = match Message::parse(text) {
            Ok(msg) => msg,
            Err(rejected) => {
                let what = format!("wrote an invalid message ({})", rejected.reason);
                return self.protocol_error(node, &what, text);
            }
        };
        // Maelstrom checks only that the src exists, and sends the message as from it: a
        // node may forward a client's request with the client's src, so that the node it
        // reaches answers the client itself.
        let sender = if msg.src() == self.node_ids[node] {
            Sender::Node(node)
        } else if let Some(&other) = self.index.get(msg.src()) {
            Sender::Node(other)
        } else if self.clients.contains(msg.src()) {
            Sender::Client
        } else {
            let what = format!(
                "sent a message with src {:?}, which does not exist (Invalid source)",
                msg.src()
            );
            return self.protocol_error(node, &what, text);
        };
        match (self.destination(node, msg.dest()), sender) {
            (Dest::Node(dest), Sender::Node(from)) => self.send_to_node(from, dest, text),
            (Dest::Node(dest), Sender::Client) => {
                // Messages involving a client have no latency in Maelstrom, and partitions
                // only cut nodes from nodes.
                self.stats.client_msgs += 1;
                self.put_to_node(dest, self.now, None, text.into());
            }
            (Dest::Service(service), Sender::Node(from)) => {
                self.send_to_service(from, service, text);
            }
            (Dest::Service(_) | Dest::Client, Sender::Client) => {
                let what = format!(
                    "sent a message from client {:?} to {:?}, which the simulator does not \
                     route (only a node may be its destination)",
                    msg.src(),
                    msg.dest()
                );
                self.protocol_error(node, &what, text);
            }
            (Dest::InitClient, _) => {
                self.nodes[node].init_answered = true;
                self.record(self.now, TraceEvent::Deliver, text);
            }
            (Dest::Client, Sender::Node(_)) => self.send_to_client(node, &msg, text, out),
            (Dest::Unknown, _) => self.invalid_dest(node, &msg, text),
        }
    }

    /// A message to an id that does not exist (Maelstrom's "Invalid dest").
    fn invalid_dest(&mut self, node: usize, msg: &Message<'_>, text: &str) {
        let what = match msg.dest() {
            INIT_CLIENT => "sent to the init client after init_ok (Invalid dest)".into(),
            dest if self.closed_clients.contains(dest) => format!(
                "sent to client {dest:?} after it timed out or failed indefinitely and was \
                 closed, as this workload's clients are not reusable (Invalid dest): answer \
                 clients in time or not at all"
            ),
            dest => format!("sent to {dest:?}, which does not exist (Invalid dest)"),
        };
        self.protocol_error(node, &what, text);
    }

    fn destination(&self, node: usize, dest: &str) -> Dest {
        if let Some(&index) = self.index.get(dest) {
            Dest::Node(index)
        } else if let Some(service) = ServiceId::from_id(dest) {
            Dest::Service(service)
        } else if dest == INIT_CLIENT {
            match self.nodes[node].init_answered {
                false => Dest::InitClient,
                true => Dest::Unknown,
            }
        } else if self.clients.contains(dest) {
            Dest::Client
        } else {
            Dest::Unknown
        }
    }

    fn send_to_node(&mut self, from: usize, node: usize, line: &str) {
        self.stats.server_msgs += 1;
        if self.net.is_lost() {
            self.stats.dropped += 1;
            self.record(self.now, TraceEvent::Drop, line);
            return;
        }
        let at = self.now + self.net.latency();
        self.put_to_node(node, at, Some(from), line.into());
    }

    fn send_to_service(&mut self, from: usize, service: ServiceId, line: &str) {
        self.stats.service_msgs += 1;
        let at = self.now + self.net.latency();
        let event = Event::ToService {
            service,
            from,
            sent: self.now,
            line: line.into(),
        };
        self.queue.push(at, event);
    }

    fn send_to_client(
        &mut self,
        node: usize,
        msg: &Message<'_>,
        line: &str,
        out: &mut Vec<ClientMessage>,
    ) {
        self.stats.client_msgs += 1;
        self.record(self.now, TraceEvent::Deliver, line);
        // The scanner checked the structure; serde may still reject, say, a bad escape.
        match serde_json::from_str(msg.raw_body()) {
            Ok(body) => out.push(ClientMessage {
                time: self.now,
                src: msg.src().to_owned(),
                dest: msg.dest().to_owned(),
                body,
            }),
            Err(e) => {
                self.protocol_error(node, &format!("sent an unreadable body ({e})"), line);
            }
        }
    }

    /// A request lands at a service; its answer, if any, goes back after a latency.
    pub(super) fn deliver_to_service(
        &mut self,
        service: ServiceId,
        from: usize,
        sent: Instant,
        line: &str,
    ) {
        self.record(sent, TraceEvent::Deliver, line);
        let Ok(msg) = Message::parse(line) else {
            debug_assert!(false, "a routed line no longer parses: {line}");
            return;
        };
        let body: Value = match serde_json::from_str(msg.raw_body()) {
            Ok(body) => body,
            Err(e) => {
                let what = format!("sent {} an unreadable body ({e})", service.id());
                return self.protocol_error(from, &what, line);
            }
        };
        let Some(reply) = self.services.handle(service, msg.src(), &body) else {
            return; // Maelstrom's services do not answer requests they do not understand.
        };
        self.stats.service_msgs += 1;
        let at = self.now + self.net.latency();
        let line = envelope_line(service.id(), msg.src(), &reply);
        self.put_to_node(from, at, None, line);
    }

    /// Records a line Maelstrom's network rejects; like Maelstrom, reads nothing more from
    /// the node.
    fn protocol_error(&mut self, node: usize, what: &str, line: &str) {
        let first = !std::mem::replace(&mut self.nodes[node].unread, true);
        if self.protocol_errors.len() < MAX_PROTOCOL_ERRORS {
            let unread = if first {
                "; Maelstrom reads nothing more from this node"
            } else {
                ""
            };
            let entry = format!(
                "{} {} {what}{unread}: {}",
                self.now,
                self.node_ids[node],
                quote(line)
            );
            self.protocol_errors.push(entry);
            return;
        }
        self.errors_not_listed += 1;
        let summary = format!("... and {} more protocol errors", self.errors_not_listed);
        if self.errors_not_listed == 1 {
            self.protocol_errors.push(summary);
        } else if let Some(last) = self.protocol_errors.last_mut() {
            *last = summary;
        }
    }
}

/// One message line: `{"src":..,"dest":..,"body":..}`.
pub(super) fn envelope_line(src: &str, dest: &str, body: &Value) -> Box<str> {
    let envelope = Envelope { src, dest, body };
    // Serialising strings and a Value into a String cannot fail.
    serde_json::to_string(&envelope)
        .unwrap_or_default()
        .into_boxed_str()
}

/// At most [`QUOTE_BYTES`] of `line`, cut at a character boundary.
fn quote(line: &str) -> String {
    if line.len() <= QUOTE_BYTES {
        return line.to_owned();
    }
    let mut end = QUOTE_BYTES;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Ctx;
    use crate::error::Error;
    use crate::sim::cluster::ClusterConfig;

    /// A node that never says anything of its own.
    struct Quiet;

    impl Handler for Quiet {
        type Timer = ();
        fn on_message(&mut self, _: &mut Ctx<'_, Self>, _: &Message<'_>) -> Result<(), Error> {
            Ok(())
        }
    }

    fn cluster() -> Cluster<Quiet> {
        let mut cluster = Cluster::new(ClusterConfig::new(2, 1), |_| Quiet);
        cluster.run_until(Instant::ZERO, &mut Vec::new());
        assert!(cluster.protocol_errors().is_empty());
        cluster
    }

    /// Lines no handler can write through `Ctx`, but a node binary could print (Maelstrom's docs,
    /// "Traps that fail a whole run"): one protocol error each, nothing routed.
    #[test]
    fn lines_that_are_not_messages_are_protocol_errors() {
        let rows: [(&[u8], &str); 6] = [
            (b"hello world", "invalid message"),
            (b"{\"src\":\"n0\",\"dest\":\"n1\"}", "missing \"body\""),
            (
                b"{\"src\":\"n0\",\"dest\":\"n1\",\"body\":{\"type\":\"x\"}} trailing",
                "trailing",
            ),
            (
                b"{\"src\":\"n0\",\"dest\":\"n1\",\"body\":[1]}",
                "not an object",
            ),
            (
                b"{\"src\":\"n0\",\"dest\":\"n1\",\"body\":{\"type\":\"\xff\"}}",
                "not UTF-8",
            ),
            (
                b"{\"src\":\"n7\",\"dest\":\"n1\",\"body\":{\"type\":\"x\"}}",
                "src \"n7\", which does not exist (Invalid source)",
            ),
        ];
        for (line, expected) in rows {
            let mut cluster = cluster();
            let mut out = Vec::new();
            cluster.route_line(0, line, &mut out);
            let errors = cluster.protocol_errors();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].starts_with("t+0.000000s n0 "), "{}", errors[0]);
            assert!(
                errors[0].contains(expected),
                "{} lacks {expected}",
                errors[0]
            );
            assert!(out.is_empty() && cluster.next_event_at().is_none());
        }
    }

    /// A node that answers every message with `ok`.
    struct Answers;

    impl Handler for Answers {
        type Timer = ();
        fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, msg: &Message<'_>) -> Result<(), Error> {
            ctx.reply(msg, &serde_json::json!({"type": "ok"}))
        }
    }

    /// Maelstrom checks only that a src exists: a node may forward a client's request in
    /// the client's name, and the node it reaches answers the client directly (at once, as
    /// client messages have no latency); a src naming another node sends as that node.
    /// `nodes` initialised nodes that answer everything, and a client `c1` that asked
    /// `node` once (its answer in the returned messages).
    fn asked_once(nodes: usize, node: &str) -> (Cluster<Answers>, Vec<ClientMessage>) {
        let mut cluster = Cluster::new(ClusterConfig::new(nodes, 1), |_| Answers);
        let mut out = Vec::new();
        cluster.run_until(Instant::ZERO, &mut out);
        cluster.send_client("c1", node, &serde_json::json!({"type": "req", "msg_id": 5}));
        cluster.run_until(Instant::ZERO, &mut out);
        (cluster, out)
    }

    #[test]
    fn a_src_that_exists_is_sent_as_from_it() {
        let (mut cluster, mut out) = asked_once(3, "n0");
        out.clear(); // n0's own answer
        let forwarded = br#"{"src":"c1","dest":"n1","body":{"type":"req","msg_id":5}}"#;
        cluster.route_line(0, forwarded, &mut out);
        cluster.run_until(Instant::ZERO, &mut out);
        assert!(
            cluster.protocol_errors().is_empty(),
            "{:?}",
            cluster.protocol_errors()
        );
        assert_eq!(out.len(), 1, "n1 answered the client at once");
        assert_eq!((out[0].src.as_str(), out[0].dest.as_str()), ("n1", "c1"));
        assert_eq!(out[0].body["in_reply_to"], 5);

        // As n2, cut off from n1: dropped, as Maelstrom drops what n2 sends n1.
        cluster.partition(&[vec!["n0".into(), "n2".into()], vec!["n1".into()]]);
        let before = cluster.stats();
        let spoofed = br#"{"src":"n2","dest":"n1","body":{"type":"x","msg_id":1}}"#;
        cluster.route_line(0, spoofed, &mut out);
        cluster.run_until(Instant::from_micros(1_000_000), &mut out);
        let after = cluster.stats();
        assert_eq!(after.server_msgs, before.server_msgs + 1);
        assert_eq!(after.dropped, before.dropped + 1);
        assert!(cluster.protocol_errors().is_empty());
        // Unpartitioned, n1 gets it as from n2 and answers n2, which answers back: messages flow.
        cluster.heal();
        cluster.route_line(0, spoofed, &mut out);
        cluster.run_until(Instant::from_micros(2_000_000), &mut out);
        assert!(cluster.stats().server_msgs >= after.server_msgs + 2);
    }

    /// Maelstrom's thread reading a node's stdout throws on a line its network rejects and
    /// reads nothing more: neither does the simulator.
    #[test]
    fn after_a_protocol_error_nothing_more_is_read_from_the_node() {
        let (mut cluster, mut out) = asked_once(2, "n1");
        assert_eq!(out.len(), 1, "n1 answers");
        let request = serde_json::json!({"type": "req", "msg_id": 5});
        cluster.route_line(1, b"debug: hello", &mut out);
        assert!(cluster.protocol_errors()[0].contains("reads nothing more from this node"));
        assert_eq!(cluster.unread_nodes(), ["n1"]);
        out.clear();
        cluster.send_client("c1", "n1", &request);
        cluster.send_client("c1", "n0", &request);
        cluster.run_until(Instant::from_micros(1_000_000), &mut out);
        assert_eq!(out.len(), 1, "only n0's answer: {:?}", out[0].src);
        assert_eq!(out[0].src, "n0");
        assert_eq!(cluster.protocol_errors().len(), 1);
    }

    #[test]
    fn protocol_errors_are_capped_with_a_count_of_the_rest() {
        let mut cluster = cluster();
        for _ in 0..MAX_PROTOCOL_ERRORS + 5 {
            cluster.route_line(0, b"garbage", &mut Vec::new());
        }
        let errors = cluster.protocol_errors();
        assert_eq!(errors.len(), MAX_PROTOCOL_ERRORS + 1);
        assert_eq!(
            errors[MAX_PROTOCOL_ERRORS],
            "... and 5 more protocol errors"
        );
    }

    #[test]
    fn long_lines_are_quoted_shortened_at_a_character_boundary() {
        let line = "é".repeat(QUOTE_BYTES);
        let quoted = quote(&line);
        assert!(quoted.ends_with("...") && quoted.len() <= QUOTE_BYTES + 3);
        assert_eq!(quote("short"), "short");
    }
}
