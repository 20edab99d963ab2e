//! `volley compare --html`: a self-contained page (`compare_html/template.html`, inline CSS and JS,
//! no network) with the comparison table, each distribution's test, both runs' percentile curves
//! overlaid and their time series side by side. Its charts are drawn by the report page's own
//! helpers (the part of `report_html/template.html` between [`HELPERS_START`] and
//! [`HELPERS_END`]), so both pages draw alike and the chart code lives once.

use crate::render::compare::{change, row_significance, value};
use crate::results::compare::Comparison;
use crate::results::report::Report;

const TEMPLATE: &str = include_str!("compare_html/template.html");
const REPORT_TEMPLATE: &str = include_str!("report_html/template.html");
const DATA_PLACEHOLDER: &str = "/*VOLLEY_COMPARE_JSON*/null";
const HELPERS_PLACEHOLDER: &str = "/*VOLLEY_CHART_HELPERS*/";
/// Where the report page's helpers (formatting, tables, cards, `lineChart`) begin…
const HELPERS_START: &str = "// ---------- small helpers ----------";
/// …and where its own sections begin.
const HELPERS_END: &str = "// ---------- sections ----------";

/// The report page's chart and formatting helpers (empty if its markers moved: the page then
/// shows its error box, and the unit test below fails first).
fn chart_helpers() -> &'static str {
    let start = REPORT_TEMPLATE.find(HELPERS_START);
    let end = REPORT_TEMPLATE.find(HELPERS_END);
    match (start, end) {
        (Some(start), Some(end)) if start < end => &REPORT_TEMPLATE[start..end],
        _ => "",
    }
}

/// The comparison page of `comparison` between `base` and `new`.
pub fn render(comparison: &Comparison, base: &Report, new: &Report) -> String {
    let text: Vec<[String; 4]> = comparison
        .rows
        .iter()
        .map(|row| {
            [
                value(row.unit, row.base),
                value(row.unit, row.new),
                change(row),
                row_significance(row),
            ]
        })
        .collect();
    let data = serde_json::json!({
        "comparison": comparison,
        "text": text,
        "base": base,
        "new": new,
    });
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "null".into());
    // Inside <script>, `</` could close the element early (e.g. a scenario named "</script>").
    let safe = json.replace("</", "<\\/").replace("<!--", "<\\!--");
    TEMPLATE
        .replacen(HELPERS_PLACEHOLDER, chart_helpers(), 1)
        .replacen(DATA_PLACEHOLDER, &safe, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_page_still_marks_its_chart_helpers() {
        let helpers = chart_helpers();
        assert!(
            helpers.contains("function lineChart("),
            "markers moved in report_html/template.html"
        );
        assert!(helpers.contains("const PALETTE"));
        assert_eq!(TEMPLATE.matches(HELPERS_PLACEHOLDER).count(), 1);
        assert_eq!(TEMPLATE.matches(DATA_PLACEHOLDER).count(), 1);
    }

    #[test]
    fn names_cannot_close_the_script() {
        let mut report = crate::results::report::Report::build(
            Default::default(),
            Default::default(),
            Default::default(),
            &Default::default(),
            Default::default(),
        );
        report.scenario.name = "</script><script>alert(1)</script>".into();
        let comparison = crate::results::compare::compare("a", &report, "b", &report);
        let page = render(&comparison, &report, &report);
        assert_eq!(page.matches("</script>").count(), 1, "only the page's own");
    }
}
