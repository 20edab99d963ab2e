//! The SDK's version says which WIT interface it speaks: its major.minor is the version of the
//! package in `wit/scenario.wit` (issue 25), so `volley-sdk = "0.3"` means `volley:scenario@0.3.*`.

/// The version in the `package` line of a WIT file, e.g. `0.2.0` for `volley:scenario@0.2.0;`.
fn package_version(wit: &str) -> Option<&str> {
    wit.lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .and_then(|package| package.trim_end_matches(';').rsplit_once('@'))
        .map(|(_, version)| version.trim())
}

fn major_minor(version: &str) -> Option<&str> {
    version.rsplit_once('.').map(|(major_minor, _)| major_minor)
}

#[test]
fn the_crate_version_is_the_interface_version() {
    let interface = package_version(include_str!("../wit/scenario.wit"));
    assert_eq!(
        interface.and_then(major_minor),
        major_minor(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_package_line_is_read_and_a_missing_one_is_none() {
    assert_eq!(
        package_version("package volley:scenario@0.2.0;\n"),
        Some("0.2.0")
    );
    assert_eq!(package_version("interface host {}\n"), None);
    assert_eq!(major_minor("1.4.2"), Some("1.4"));
}
