//! The self-contained HTML report: the page in `report_html/template.html` (inline CSS and JS, no
//! network) with the results JSON embedded. Opens offline in any browser. Used by `volley report`
//! and `volley run --html`.

use crate::results::report::Report;

const TEMPLATE: &str = include_str!("report_html/template.html");
const PLACEHOLDER: &str = "/*VOLLEY_RESULTS_JSON*/null";

/// The report page for `report`.
pub fn render(report: &Report) -> String {
    let json = serde_json::to_string(report).unwrap_or_else(|_| "null".into());
    // Inside <script>, `</` could close the element early (e.g. a scenario named "</script>").
    let safe = json.replace("</", "<\\/").replace("<!--", "<\\!--");
    TEMPLATE.replacen(PLACEHOLDER, &safe, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_has_exactly_one_placeholder() {
        assert_eq!(super::TEMPLATE.matches(super::PLACEHOLDER).count(), 1);
    }

    #[test]
    fn a_pass_or_fail_badge_never_wraps() {
        // A narrow thresholds column once broke the badge as "pas/s": the `.tag` rule keeps it whole.
        let rule = super::TEMPLATE
            .lines()
            .find(|line| line.trim_start().starts_with(".tag {"))
            .unwrap_or_default();
        assert!(rule.contains("white-space: nowrap"), "{rule}");
    }
}
