//! [`ConfigError`]: a scenario-file mistake with its `file:line:column`, what is wrong and the fix.
//! Also turns serde_yaml_ng's messages into that shape, adding "did you mean" for misspelt fields.

use std::fmt;
use std::path::{Path, PathBuf};

/// A mistake in a scenario file (or in a `--set` override of it).
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file, as given on the command line.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and, where possible, the fix.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => {
                write!(
                    f,
                    "{}:{line}:{column}: {}",
                    self.file.display(),
                    self.message
                )
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl ConfigError {
    /// An error at a known position.
    pub fn at(file: &Path, position: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            position,
            message: message.into(),
        }
    }

    /// Translate a serde_yaml_ng error, keeping its location and improving its wording.
    pub fn from_yaml(file: &Path, error: &serde_yaml_ng::Error) -> Self {
        let position = error.location().map(|at| (at.line(), at.column()));
        let mut message = error.to_string();
        if let Some(cut) = message.find(" at line ") {
            message.truncate(cut);
        }
        ConfigError {
            file: file.to_owned(),
            position,
            message: improve(&message),
        }
    }
}

/// Add a "did you mean" to unknown-field errors and a fix to missing-field errors.
fn improve(message: &str) -> String {
    if let Some((prefix, field, expected)) = unknown_field(message) {
        let suggestion = closest(&field, expected.iter().map(String::as_str));
        let fields = expected
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return match suggestion {
            Some(candidate) => {
                format!("{prefix}unknown field `{field}`, did you mean `{candidate}`?")
            }
            None => format!("{prefix}unknown field `{field}`; the fields here are {fields}"),
        };
    }
    if let Some(start) = message.find("unknown variant `") {
        // "metrics.x: unknown variant `durations`, expected one of `duration`, …"
        let rest = &message[start + 17..];
        if let Some(end) = rest.find('`') {
            let word = &rest[..end];
            let expected: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
            if let Some(candidate) = closest(word, expected.iter().copied()) {
                return format!("{message}; did you mean `{candidate}`?");
            }
        }
    }
    if let Some(start) = message.find("missing field `") {
        let field = &message[start + 15..];
        let field = field.split('`').next().unwrap_or(field);
        return format!(
            "{message}; add `{field}:` here (see docs/scenario-file.md for its format)"
        );
    }
    message.to_owned()
}

/// Split "path: unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
fn unknown_field(message: &str) -> Option<(String, String, Vec<String>)> {
    let start = message.find("unknown field `")?;
    let prefix = message[..start].to_owned();
    let rest = &message[start + 15..];
    let end = rest.find('`')?;
    let field = rest[..end].to_owned();
    let expected = rest[end + 1..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((prefix, field, expected))
}

/// The candidate nearest to `word` (at most 3 edits away), for "did you mean" suggestions.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, for suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_field() {
        let message = "load: unknown field `conections`, expected one of `connections`, `ramp_up`";
        assert_eq!(
            improve(message),
            "load: unknown field `conections`, did you mean `connections`?"
        );
    }

    #[test]
    fn lists_fields_when_nothing_is_close() {
        let message = "unknown field `zzzzzzzz`, expected `name` or `target`";
        assert_eq!(
            improve(message),
            "unknown field `zzzzzzzz`; the fields here are `name`, `target`"
        );
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("conections", "connections"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
