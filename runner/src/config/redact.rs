//! Hiding what a URL may carry in secret before it is shown: query values (`?token=…`) and the
//! password of `user:password@`. The summary, JSON, HTML and JUnit show targets this way unless
//! `--show-secrets` is given. Connections always use the full URL; only the display changes.

/// What a hidden value is shown as.
pub const HIDDEN: &str = "…";

/// `url` with every query value and any userinfo password replaced by [`HIDDEN`].
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let (base, query) = match before_fragment.find('?') {
        Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
        None => (before_fragment, None),
    };
    let mut out = redact_password(base);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if !value.is_empty() => format!("{name}={HIDDEN}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out.push_str(fragment);
    out
}

/// `scheme://user:secret@host/…` → `scheme://user:…@host/…`.
fn redact_password(base: &str) -> String {
    let Some(scheme_end) = base.find("://") else {
        return base.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let authority = &base[authority_start..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') {
                format!("{user}:{HIDDEN}")
            } else {
                user.to_owned()
            };
            format!(
                "{}{hidden}{}{}",
                &base[..authority_start],
                &authority[at..],
                &base[authority_end..]
            )
        }
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_and_passwords_are_hidden() {
        assert_eq!(
            redact_url("wss://h:8443/ws?token=s3cr3t&room={vu}&flag"),
            "wss://h:8443/ws?token=…&room=…&flag"
        );
        assert_eq!(
            redact_url("ws://alice:pa55@h/x?a=1#frag"),
            "ws://alice:…@h/x?a=…#frag"
        );
        assert_eq!(redact_url("ws://alice@h/"), "ws://alice@h/");
        assert_eq!(
            redact_url("embedded://echo/room-{vu}"),
            "embedded://echo/room-{vu}"
        );
        assert_eq!(redact_url("ws://h/?empty="), "ws://h/?empty=");
    }
}
