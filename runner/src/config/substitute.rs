//! `${NAME}` and `${NAME:-default}` substitution from the environment, applied to the file's text
//! before YAML parsing (so secrets and targets can come from CI variables). `$$` writes a literal `$`.
//! Lines never change, so YAML error locations stay right.

/// A `${NAME}` with no value and no default, at a byte offset in the text.
#[derive(Debug, PartialEq, Eq)]
pub struct Unset {
    pub name: String,
    pub offset: usize,
}

/// Replace every `${NAME}` / `${NAME:-default}` using `lookup`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Unset> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            offset += dollar + 2;
            rest = stripped;
            continue;
        }
        let Some(body_and_more) = after.strip_prefix('{') else {
            out.push('$');
            offset += dollar + 1;
            rest = after;
            continue;
        };
        let Some(end) = body_and_more
            .find('}')
            .filter(|end| !body_and_more[..*end].contains('\n'))
        else {
            out.push('$');
            offset += dollar + 1;
            rest = after;
            continue;
        };
        let body = &body_and_more[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        match lookup(name)
            .filter(|value| !value.is_empty())
            .or(default.map(str::to_owned))
        {
            Some(value) => out.push_str(&value),
            None => {
                return Err(Unset {
                    name: name.to_owned(),
                    offset: offset + dollar,
                });
            }
        }
        let consumed = dollar + 2 + end + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "staging.example.com".to_owned())
    }

    #[test]
    fn replaces_values_and_defaults() {
        let text = "target: wss://${HOST}/x?t=${TOKEN:-none} cost $$5 {vu}";
        assert_eq!(
            substitute(text, env),
            Ok("target: wss://staging.example.com/x?t=none cost $5 {vu}".to_owned())
        );
    }

    #[test]
    fn unset_without_default_names_the_variable_and_offset() {
        let text = "a: 1\nb: ${SECRET}\n";
        assert_eq!(
            substitute(text, env),
            Err(Unset {
                name: "SECRET".into(),
                offset: 8
            })
        );
    }
}
