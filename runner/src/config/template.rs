//! The placeholder language of `target` and `headers` values: `{vu}`, `{iteration}` and
//! `{var.NAME}` (the connection's data row first, then `vars`). [`Template::parse`] checks the
//! grammar once at load; [`Template::render`] fills one in per connection (a template without
//! placeholders is [`Template::is_static`], rendered once). `${ENV}` substitution happens earlier,
//! on the file's text (`substitute`). Which row a connection reads is decided in `load::rows`.

/// Values a template can use.
pub struct TemplateValues<'a> {
    /// `{vu}`.
    pub vu: u32,
    /// `{iteration}`.
    pub iteration: u32,
    /// `{var.NAME}`: data row first, then vars.
    pub lookup: &'a dyn Fn(&str) -> Option<&'a str>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Vu,
    Iteration,
    Var(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text`: an unclosed `{` or an unknown placeholder is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                // Not the text itself: a target or header value may carry a secret.
                return Err(
                    "unclosed `{`; a placeholder is `{vu}`, `{iteration}` or `{var.NAME}`".into(),
                );
            };
            let name = &rest[open + 1..open + close];
            parts.push(match name {
                "vu" => Part::Vu,
                "iteration" => Part::Iteration,
                _ => match name.strip_prefix("var.") {
                    Some(var) => Part::Var(var.to_owned()),
                    None => {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}`; use {{vu}}, {{iteration}} or {{var.NAME}}"
                        ));
                    }
                },
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Whether the template has no placeholders (the same text for every connection).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Text(_)))
    }

    /// The `NAME`s of its `{var.NAME}` placeholders.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Fill the placeholders in.
    pub fn render(&self, values: &TemplateValues<'_>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Vu => out.push_str(&values.vu.to_string()),
                Part::Iteration => out.push_str(&values.iteration.to_string()),
                Part::Var(name) => match (values.lookup)(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        return Err(format!("`{{var.{name}}}`: no var `{name}` in vars or data"));
                    }
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_template(template: &str, values: &TemplateValues<'_>) -> Result<String, String> {
        Template::parse(template)?.render(values)
    }

    #[test]
    fn templates_expand() {
        let lookup = |name: &str| (name == "room").then_some("lobby");
        let values = TemplateValues {
            vu: 7,
            iteration: 2,
            lookup: &lookup,
        };
        assert_eq!(
            expand_template("ws://h/{var.room}/{vu}?i={iteration}", &values),
            Ok("ws://h/lobby/7?i=2".to_owned())
        );
        assert_eq!(
            expand_template("{var.nope}", &values),
            Err("`{var.nope}`: no var `nope` in vars or data".to_owned())
        );
    }

    #[test]
    fn parsed_templates_know_their_vars_and_whether_they_vary() -> Result<(), String> {
        let template = Template::parse("Bearer {var.token}-{vu}")?;
        assert!(!template.is_static());
        assert_eq!(template.vars().collect::<Vec<_>>(), ["token"]);
        assert!(Template::parse("volley")?.is_static());
        assert!(Template::parse("{user}").is_err());
        assert!(Template::parse("a{vu").is_err());
        // The text is not echoed: a target or header value may carry a secret.
        let error = Template::parse("Bearer s3cr3t-{vu")
            .err()
            .unwrap_or_default();
        assert!(error.starts_with("unclosed `{`"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
        Ok(())
    }
}
