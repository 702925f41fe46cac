//! The latency percentile plot: HdrHistogram's percentile distribution (x: percentile on
//! a log scale of 1/(1 - p), y: latency on a log scale), every broker on one chart, as a
//! self-contained SVG. Pure: histograms in, text out.

use std::fmt::Write;

use hdrhistogram::Histogram;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// Nines on the x axis: 0 (p0) to 5 (p99.999).
const NINES_MAX: f64 = 5.0;
/// Points per line.
const POINTS: usize = 200;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// The SVG of `series` (name, latencies in µs) under `title`. Empty histograms are left
/// out; with none left the chart says so.
pub fn percentile_svg(title: &str, series: &[(String, Histogram<u64>)]) -> String {
    let series: Vec<_> = series.iter().filter(|(_, h)| !h.is_empty()).collect();
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="25" font-size="15" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    if series.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">no latency recorded</text></svg>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }
    let lowest = series
        .iter()
        .map(|(_, h)| h.min().max(1))
        .min()
        .unwrap_or(1);
    let highest = series
        .iter()
        .map(|(_, h)| h.max().max(2))
        .max()
        .unwrap_or(2);
    let (y_lo, y_hi) = (
        (lowest as f64).log10().floor(),
        (highest as f64)
            .log10()
            .ceil()
            .max((lowest as f64).log10().floor() + 1.0),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |nines: f64| LEFT + nines / NINES_MAX * plot_w;
    let y_of = |us: f64| TOP + plot_h - ((us.max(1.0).log10() - y_lo) / (y_hi - y_lo)) * plot_h;

    // Axes and grid.
    for nines in 0..=NINES_MAX as u32 {
        let x = x_of(f64::from(nines));
        let label = match nines {
            0 => "0%".to_string(),
            n => format!("{}%", 100.0 - 100.0 / 10f64.powi(n as i32)),
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0
        );
    }
    let mut decade = y_lo;
    while decade <= y_hi {
        let y = y_of(10f64.powf(decade));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            micros_label(10f64.powf(decade))
        );
        decade += 1.0;
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">latency (log scale)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 15.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );

    // One line per broker, and the legend.
    for (i, (name, histogram)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut points = String::new();
        for step in 0..=POINTS {
            let nines = NINES_MAX * step as f64 / POINTS as f64;
            let quantile = 1.0 - 10f64.powf(-nines);
            let us = histogram.value_at_quantile(quantile) as f64;
            let _ = write!(points, "{:.1},{:.1} ", x_of(nines), y_of(us));
        }
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.trim_end()
        );
        let ly = TOP + 20.0 + 22.0 * i as f64;
        let lx = LEFT + plot_w + 15.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn micros_label(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{} s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{} ms", us / 1000.0)
    } else {
        format!("{us} µs")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn every_broker_gets_a_line_and_a_legend_entry() {
        let svg = percentile_svg(
            "fan-in <4:1>",
            &[
                ("coremq".into(), histogram(&[100, 200, 300, 5000])),
                ("mosquitto".into(), histogram(&[400, 800, 20_000])),
                ("empty".into(), Histogram::new(3).unwrap()),
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">coremq</text>") && svg.contains(">mosquitto</text>"));
        assert!(!svg.contains(">empty</text>"));
        assert!(svg.contains("fan-in &lt;4:1&gt;"));
        assert!(svg.contains(">99.9%</text>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn no_latency_says_so() {
        let svg = percentile_svg("idle", &[]);
        assert!(svg.contains("no latency recorded"));
    }
}
