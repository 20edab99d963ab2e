//! The words of a rule in the scenario file (a threshold such as `check "echo ok" rate > 99%`, a
//! regression rule such as `round_trip p99 < +10%`): split on whitespace with `"quoted names"`
//! kept whole, and the advice for a word that is not one of the allowed ones. Pure; shared by
//! `threshold` and `regression`.

use super::closest;

/// Split `text` on whitespace, keeping `"quoted names"` whole (without the quotes).
pub fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or("unclosed quote; write names with spaces as `\"a name\"`")?;
            out.push(quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    Ok(out)
}

/// What to write instead of `word`: the closest of `options` when one is close, and the list.
pub fn suggest(word: &str, options: &[&str]) -> String {
    let listed = options
        .iter()
        .map(|option| format!("`{option}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(word, options.iter().copied()) {
        Some(option) => format!("did you mean `{option}`? (one of {listed})"),
        None => format!("use one of {listed}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_stay_whole_and_an_unclosed_quote_is_refused() {
        assert_eq!(
            words(r#" check "echo is ok"  rate > 99% "#),
            Ok(vec![
                "check".to_owned(),
                "echo is ok".to_owned(),
                "rate".to_owned(),
                ">".to_owned(),
                "99%".to_owned()
            ])
        );
        assert_eq!(words("   "), Ok(Vec::new()));
        assert!(
            words(r#"check "echo p99 < 1"#).is_err_and(|error| error.starts_with("unclosed quote"))
        );
    }

    #[test]
    fn a_near_word_is_suggested_and_a_far_one_gets_the_list() {
        assert_eq!(
            suggest("p98", &["p50", "p99"]),
            "did you mean `p99`? (one of `p50`, `p99`)"
        );
        assert_eq!(suggest("zzzzzz", &["p50"]), "use one of `p50`");
    }
}
