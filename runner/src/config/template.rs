//! The placeholder language of URL templates: `{vu}`, `{iteration}` and `{var.NAME}` (a data row
//! first, then `vars`). Checked once at load with sample values; expanded per connection by the
//! `load` stage. `${ENV}` substitution happens earlier, on the file's text (`substitute`).

/// Values a URL template can use.
pub struct TemplateValues<'a> {
    /// `{vu}`.
    pub vu: u32,
    /// `{iteration}`.
    pub iteration: u32,
    /// `{var.NAME}`: data row first, then vars.
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Expand `{vu}`, `{iteration}` and `{var.NAME}` in a template.
pub fn expand_template(template: &str, values: &TemplateValues<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("unclosed `{{` in `{template}`"));
        };
        let name = &rest[open + 1..open + close];
        match name {
            "vu" => out.push_str(&values.vu.to_string()),
            "iteration" => out.push_str(&values.iteration.to_string()),
            _ => match name.strip_prefix("var.") {
                Some(var) => match (values.lookup)(var) {
                    Some(value) => out.push_str(&value),
                    None => return Err(format!("`{{{name}}}`: no var `{var}` in vars or data")),
                },
                None => {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}`; use {{vu}}, {{iteration}} or {{var.NAME}}"
                    ));
                }
            },
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand() {
        let lookup = |name: &str| (name == "room").then(|| "lobby".to_owned());
        let values = TemplateValues {
            vu: 7,
            iteration: 2,
            lookup: &lookup,
        };
        assert_eq!(
            expand_template("ws://h/{var.room}/{vu}?i={iteration}", &values),
            Ok("ws://h/lobby/7?i=2".to_owned())
        );
    }
}
