//! The scenarios a comparison runs, modelled on the Open MQTT Benchmark Suite: point to
//! point pairs, fan-out, fan-in, shared-subscription fan-in and connection scale, each at a
//! fixed rate and at saturation. Every scenario is one loadgen command line.

/// What a scenario's headline figure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Headline {
    /// Messages delivered per second (and per broker core).
    Throughput,
    /// Latency percentiles at a fixed offered rate.
    Latency,
    /// Connections opened per second and CONNACK latency.
    Connections,
    /// Broker memory per idle connection.
    IdleMemory,
}

/// One scenario: a name, what it shows, and the loadgen arguments (host and port added).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Name in the report and in file names.
    pub name: &'static str,
    /// What it measures, for the report.
    pub about: &'static str,
    /// The headline figure.
    pub headline: Headline,
    /// loadgen arguments: the scenario word first.
    pub args: Vec<String>,
}

fn scenario(name: &'static str, about: &'static str, headline: Headline, args: &str) -> Scenario {
    Scenario {
        name,
        about,
        headline,
        args: args.split_whitespace().map(str::to_string).collect(),
    }
}

/// The suites by name.
pub const SUITES: [&str; 2] = ["standard", "smoke"];

/// The scenarios of suite `name`, each run for `duration_secs`.
pub fn suite(name: &str, duration_secs: u32) -> Option<Vec<Scenario>> {
    let d = duration_secs;
    let s = match name {
        // The goals issue 5 holds coremq to, plus the fixed-rate counterparts.
        "standard" => vec![
            scenario(
                "fanin-4to1-qos0",
                "QoS 0 fan-in, 4 publishers -> 1 wildcard subscriber, 64 B, saturation",
                Headline::Throughput,
                &format!("fanin --publishers 4 --subscribers 1 --qos 0 --payload 64 --saturate --duration {d}"),
            ),
            scenario(
                "fanin-4to1-qos1",
                "QoS 1 fan-in, 4 -> 1, 64 B, saturation (32 unacknowledged per publisher)",
                Headline::Throughput,
                &format!("fanin --publishers 4 --subscribers 1 --qos 1 --payload 64 --saturate --outstanding 32 --duration {d}"),
            ),
            scenario(
                "fanout-1to100-qos0",
                "QoS 0 fan-out, 1 publisher -> 100 subscribers, 64 B, saturation",
                Headline::Throughput,
                &format!("fanout --publishers 1 --subscribers 100 --qos 0 --payload 64 --saturate --duration {d}"),
            ),
            scenario(
                "fanout-1to100-qos0-1k",
                "QoS 0 fan-out, 1 -> 100, 64 B, 1,000 msg/s offered (100,000 deliveries/s)",
                Headline::Latency,
                &format!("fanout --publishers 1 --subscribers 100 --qos 0 --payload 64 --rate 1000 --duration {d}"),
            ),
            scenario(
                "pairs-500-qos1-20k",
                "500 QoS 1 publisher/subscriber pairs, 64 B, 20,000 msg/s offered in total",
                Headline::Latency,
                &format!("pairs --pairs 500 --qos 1 --payload 64 --rate 20000 --duration {d}"),
            ),
            scenario(
                "pairs-500-qos1-sat",
                "500 QoS 1 pairs, 64 B, saturation (8 unacknowledged per publisher)",
                Headline::Throughput,
                &format!("pairs --pairs 500 --qos 1 --payload 64 --saturate --outstanding 8 --duration {d}"),
            ),
            scenario(
                "shared-8to4-qos1",
                "QoS 1 shared-subscription fan-in, 8 publishers -> $share group of 4, saturation",
                Headline::Throughput,
                &format!("shared --publishers 8 --subscribers 4 --qos 1 --payload 64 --saturate --outstanding 32 --duration {d}"),
            ),
            scenario(
                "conn-storm-5k",
                "5,000 connections opened as fast as possible: rate and CONNACK latency",
                Headline::Connections,
                &format!("conn-storm --connections 5000 --duration {d}"),
            ),
            scenario(
                "idle-10k",
                "10,000 idle connections with keep-alive: broker memory per connection",
                Headline::IdleMemory,
                &format!("idle --connections 10000 --keep-alive 60 --duration {d}"),
            ),
        ],
        // A few seconds per broker: that the harness works end to end (CI).
        "smoke" => vec![
            scenario(
                "fanin-2to1-qos1",
                "QoS 1 fan-in, 2 -> 1, 64 B, 2,000 msg/s",
                Headline::Latency,
                &format!("fanin --publishers 2 --subscribers 1 --qos 1 --payload 64 --rate 2000 --duration {d}"),
            ),
            scenario(
                "idle-200",
                "200 idle connections",
                Headline::IdleMemory,
                &format!("idle --connections 200 --duration {d}"),
            ),
        ],
        _ => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_has_unique_names_and_a_bounded_duration() {
        for name in SUITES {
            let scenarios = suite(name, 7).unwrap();
            let mut names: Vec<_> = scenarios.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), scenarios.len(), "{name}");
            for s in &scenarios {
                let at = s.args.iter().position(|a| a == "--duration").unwrap();
                assert_eq!(s.args[at + 1], "7", "{}", s.name);
            }
        }
        assert!(suite("nope", 1).is_none());
    }

    #[test]
    fn the_standard_suite_holds_the_goals_of_issue_5() {
        let names: Vec<_> = suite("standard", 10)
            .unwrap()
            .iter()
            .map(|s| s.name)
            .collect();
        for goal in [
            "fanin-4to1-qos0",
            "fanin-4to1-qos1",
            "fanout-1to100-qos0",
            "pairs-500-qos1-20k",
            "idle-10k",
        ] {
            assert!(names.contains(&goal), "{goal}");
        }
    }
}
