//! Topic filters: whether a topic name matches a filter with MQTT's `+` (one level) and `#`
//! (this level and all below) wildcards, and whether a filter is well formed. Pure; the client
//! (`client.rs`) does not need it to receive (the broker routes), scenarios use it to tell their
//! subscriptions' messages apart.

/// True when `topic` (a topic name, no wildcards) matches `filter`. Topics starting with `$`
/// (`$SYS/…`) are not matched by a filter starting with a wildcard, as the specification says.
///
/// ```
/// use volley_sdk::mqtt::topic_matches;
/// assert!(topic_matches("sensors/+/temp", "sensors/kitchen/temp"));
/// assert!(topic_matches("sensors/#", "sensors"));
/// assert!(!topic_matches("sensors/+", "sensors/kitchen/temp"));
/// assert!(!topic_matches("#", "$SYS/uptime"));
/// ```
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            literal => {
                if topic_levels.next() != Some(literal) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

/// True when `filter` is a valid topic filter: not empty, `#` only as the whole last level, `+`
/// only as a whole level.
///
/// ```
/// use volley_sdk::mqtt::valid_filter;
/// assert!(valid_filter("a/+/#"));
/// assert!(!valid_filter("a/b#"));
/// assert!(!valid_filter("a/#/b"));
/// ```
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(index, level)| {
        let whole_wildcard = *level == "+" || (*level == "#" && index + 1 == levels.len());
        whole_wildcard || !level.contains(['+', '#'])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_specification_shows() {
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/ranking",
                true,
            ),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/#", "sport", true),
            ("#", "anything/at/all", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("a/b", "a/b", true),
            ("a/b", "a/bc", false),
            ("a/b", "a", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
        ];
        for (filter, topic, expected) in cases {
            assert_eq!(topic_matches(filter, topic), expected, "{filter} ~ {topic}");
        }
    }

    #[test]
    fn filters_are_validated() {
        for good in ["#", "+", "a/+/b", "a/#", "/", "+/+"] {
            assert!(valid_filter(good), "{good}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "a/b+", "##"] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }
}
