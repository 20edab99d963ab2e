//! `volley compare`'s terminal table: the two runs, the notes on what differs between them, one
//! aligned line per figure (figure, base, new, change, significant?), then each distribution's
//! Kolmogorov–Smirnov test and a line saying what "significant" means. Plain text, no control
//! characters. Reads a [`Comparison`] only; which test a figure gets lives in `results::compare`.

use crate::config::units::{human_bytes, human_micros};
use crate::results::compare::{Comparison, Row, Side, Unit};
use std::fmt::Write;

/// The comparison as aligned text.
pub fn render(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "volley compare: {} → {}",
        printable(&comparison.base.file),
        printable(&comparison.new.file)
    );
    side_line(&mut out, "base", &comparison.base);
    side_line(&mut out, "new", &comparison.new);
    if let Some(floor) = comparison.jitter_floor_us {
        let _ = writeln!(
            out,
            "  jitter floor {} (the larger timer_lag p99): timing changes no larger are not significant",
            human_micros(floor)
        );
    }
    for note in &comparison.notes {
        let _ = writeln!(out, "note: {}", printable(note));
    }
    out.push('\n');
    let mut lines = vec![[
        "figure".to_owned(),
        "base".to_owned(),
        "new".to_owned(),
        "change".to_owned(),
        "significant".to_owned(),
    ]];
    for row in &comparison.rows {
        lines.push([
            printable(&row.figure),
            value(row.unit, row.base),
            value(row.unit, row.new),
            change(row),
            row_significance(row),
        ]);
    }
    table(&mut out, &lines);
    if !comparison.distributions.is_empty() {
        let _ = writeln!(
            out,
            "\ndistributions (two-sample Kolmogorov–Smirnov, α = {})",
            comparison.alpha
        );
        let mut lines = vec![[
            "distribution".to_owned(),
            "n base".to_owned(),
            "n new".to_owned(),
            "D".to_owned(),
            "p".to_owned(),
            "significant".to_owned(),
        ]];
        for test in &comparison.distributions {
            let (d, p, significant) = match test.ks {
                Some(ks) => (
                    format!("{:.3}", ks.d),
                    p_value(ks.p_value),
                    significance(Some(ks.significant)),
                ),
                None => ("–".into(), "–".into(), significance(None)),
            };
            lines.push([
                printable(&test.name),
                test.base_count.to_string(),
                test.new_count.to_string(),
                d,
                p,
                significant,
            ]);
        }
        table(&mut out, &lines);
    }
    let _ = writeln!(
        out,
        "\nsignificant: larger than independent samples of these sizes would show at α = {} \
         (percentiles: 95 % rank intervals that do not overlap, and for timings a change larger than \
         the jitter floor; rates: two-proportion z-test; counts and throughput: Poisson test; \
         –: not tested). Round trips on one connection are correlated, so the tests understate \
         the noise: see docs/results.md#comparing-two-runs-volley-compare.",
        comparison.alpha
    );
    out
}

fn side_line(out: &mut String, label: &str, side: &Side) {
    let digest = if side.module_sha256.len() >= 12 {
        format!(
            ", {} {}…",
            crate::results::report::digest_of(&side.interface),
            &side.module_sha256[..12]
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  {label:<5} {} against {}, {:.2}s{}{}",
        printable(&side.scenario),
        printable(&side.target),
        side.elapsed_s,
        if side.shape.is_empty() {
            String::new()
        } else {
            format!(", {}", printable(&side.shape))
        },
        digest
    );
}

/// Rows of cells as left-aligned columns (the first) and right-aligned ones (the others).
fn table<const N: usize>(out: &mut String, lines: &[[String; N]]) {
    let mut widths = [0usize; N];
    for line in lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for line in lines {
        let mut text = String::new();
        for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count());
            if index == 0 {
                text.push_str(&format!("  {cell}{pad}"));
            } else {
                text.push_str(&format!("  {pad}{cell}"));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    }
}

/// A value in its unit.
pub fn value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Micros => human_micros(value),
        Unit::Metric => trimmed(value),
        Unit::Count => format!("{value:.0}"),
        Unit::PerSecond => format!("{value:.1}/s"),
        Unit::Fraction => format!("{:.3}%", value * 100.0),
        Unit::Ratio => format!("{value:.2}×"),
        Unit::Bytes => human_bytes(value.max(0.0) as u64),
    }
}

/// `+1.20ms (+15.0%)`, `−0.100pp`, `0`.
pub fn change(row: &Row) -> String {
    if row.change == 0.0 {
        return "0".into();
    }
    let sign = if row.change > 0.0 { "+" } else { "−" };
    let size = row.change.abs();
    if row.unit == Unit::Fraction {
        return format!("{sign}{:.3}pp", size * 100.0);
    }
    let absolute = match row.unit {
        Unit::Bytes => human_bytes(size as u64),
        unit => value(unit, size),
    };
    match row.relative {
        Some(relative) => format!("{sign}{absolute} ({sign}{:.1}%)", relative.abs() * 100.0),
        None => format!("{sign}{absolute}"),
    }
}

/// `yes`, `no`, `–` (not tested), or `within jitter`: beyond the sampling noise but no larger
/// than the generator's own lateness.
pub fn row_significance(row: &Row) -> String {
    match (row.beyond_sampling_noise, row.significant) {
        (Some(true), Some(false)) => "within jitter".into(),
        (_, significant) => significance(significant),
    }
}

fn significance(significant: Option<bool>) -> String {
    match significant {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "–".into(),
    }
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// A metric value with at most 3 decimals, trailing zeros dropped.
fn trimmed(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// `text` with control characters written as visible `\u{…}`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::compare::Test;

    fn row(unit: Unit, base: f64, new: f64) -> Row {
        Row {
            figure: "f".into(),
            unit,
            base,
            new,
            change: new - base,
            relative: (base != 0.0).then(|| (new - base) / base.abs()),
            test: Test::None,
            noise_floor: None,
            beyond_sampling_noise: None,
            significant: None,
        }
    }

    #[test]
    fn changes_read_in_their_unit() {
        assert_eq!(
            change(&row(Unit::Micros, 1_000.0, 21_000.0)),
            "+20.00ms (+2000.0%)"
        );
        assert_eq!(change(&row(Unit::Fraction, 0.99, 0.98)), "−1.000pp");
        assert_eq!(change(&row(Unit::Count, 0.0, 3.0)), "+3");
        assert_eq!(change(&row(Unit::PerSecond, 100.0, 100.0)), "0");
        assert_eq!(value(Unit::Metric, 17.5), "17.5");
        assert_eq!(value(Unit::Metric, 18.0), "18");
    }

    #[test]
    fn columns_line_up_whatever_the_characters() {
        let mut out = String::new();
        table(
            &mut out,
            &[
                ["figure".to_owned(), "base".to_owned()],
                ["round_trip p50".to_owned(), "103µs".to_owned()],
            ],
        );
        let widths: Vec<usize> = out.lines().map(|line| line.chars().count()).collect();
        assert_eq!(widths[0], widths[1], "{out}");
    }
}
