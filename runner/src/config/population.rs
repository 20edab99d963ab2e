//! `populations:` — several groups of connections in one run, each with its own scenario (module
//! or flow, or the file's with other `vars`), load shape, data and target, started together, after
//! an offset (`start: 10s`) or once another population is fully established (`start: after
//! subscribers`). Each population is written as the keys it changes; the file's other keys apply
//! to all. Here: the raw form (in file order), [`overlay`], which makes one population's document
//! from the file's (so the validator checks it like any one-population file), and the pure parts
//! [`Start::parse`] and [`check_starts`] with their tests. Running populations side by side lives
//! in `crate::populations`; judging `{population=NAME}` rules in `results`.

use super::raw::{RawExpectUpgrade, RawLoad};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// One population as written: the keys it sets over the file's (checked by serde at their
/// `line:column`; their values are read again by the validator from [`overlay`]'s document).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read through `overlay`'s document; typed here so a mistake has its position
pub struct RawPopulation {
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    flow: Option<Vec<super::flow::raw::RawStep>>,
    #[serde(default)]
    goodbye: Option<Vec<super::flow::raw::RawStep>>,
    #[serde(default)]
    module_sha256: Option<Value>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    subprotocols: Option<Vec<String>>,
    #[serde(default)]
    expect_upgrade: Option<RawExpectUpgrade>,
    #[serde(default)]
    vars: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    data_order: Option<Value>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    load: Option<RawLoad>,
    /// `start:` (parsed by [`Start::parse`]).
    #[serde(default)]
    pub start: Option<String>,
}

impl RawPopulation {
    /// Whether it sets `load.search`.
    pub fn searches(&self) -> bool {
        self.load.as_ref().is_some_and(|load| load.search.is_some())
    }
}

/// `populations:`: name → population, in file order.
#[derive(Debug, Default)]
pub struct RawPopulations(pub Vec<(String, RawPopulation)>);

impl<'de> Deserialize<'de> for RawPopulations {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> serde::de::Visitor<'de> for InOrder {
            type Value = RawPopulations;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of population names to what each changes, e.g. `subscribers: {load: {connections: 100}}`")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<RawPopulations, M::Error> {
                let mut entries: Vec<(String, RawPopulation)> = Vec::new();
                while let Some((name, population)) = map.next_entry::<String, RawPopulation>()? {
                    if let Some(problem) = name_problem(&name) {
                        return Err(serde::de::Error::custom(problem));
                    }
                    if entries.iter().any(|(seen, _)| *seen == name) {
                        return Err(serde::de::Error::custom(format!(
                            "population `{name}` is defined twice"
                        )));
                    }
                    entries.push((name, population));
                }
                Ok(RawPopulations(entries))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}

/// Why `name` cannot name a population (it appears in rule labels and metric labels), if so.
pub fn name_problem(name: &str) -> Option<String> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!fine)
        .then(|| format!("`{name}` cannot name a population: use 1–64 letters, digits, `_` or `-`"))
}

/// When a population starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// With the run (the default).
    Together,
    /// This long after the run starts.
    After(Duration),
    /// Once every connection of that population is established (or has failed), or it ended.
    AfterPopulation(String),
}

impl Start {
    /// `after NAME`, a duration (`10s`), or `together`.
    pub fn parse(text: &str) -> Result<Start, String> {
        let text = text.trim();
        if text == "together" || text == "0s" || text == "0" {
            return Ok(Start::Together);
        }
        if let Some(name) = text.strip_prefix("after ") {
            let name = name.trim();
            if let Some(problem) = name_problem(name) {
                return Err(problem);
            }
            return Ok(Start::AfterPopulation(name.to_owned()));
        }
        super::units::parse_duration(text)
            .map(Start::After)
            .map_err(|message| {
                format!(
                    "`start: {text}`: {message}; write `start: after NAME` (once population NAME is established), an offset such as `start: 10s`, or leave it out to start with the run"
                )
            })
    }

    /// As written in outputs.
    pub fn describe(&self) -> String {
        match self {
            Start::Together => "with the run".into(),
            Start::After(offset) => format!("{} in", super::units::human_duration(*offset)),
            Start::AfterPopulation(name) => format!("after {name} is established"),
        }
    }
}

/// Check that every `start: after NAME` names another population and that no chain of them
/// loops; the error names the population whose `start` is wrong.
pub fn check_starts(starts: &[(String, Start)]) -> Result<(), (String, String)> {
    let names: Vec<&str> = starts.iter().map(|(name, _)| name.as_str()).collect();
    for (name, start) in starts {
        let Start::AfterPopulation(first) = start else {
            continue;
        };
        if first == name {
            return Err((
                name.clone(),
                format!("population `{name}` cannot start after itself"),
            ));
        }
        if !names.contains(&first.as_str()) {
            let hint = super::closest(first, names.iter().copied())
                .map(|close| format!("; did you mean `{close}`?"))
                .unwrap_or_default();
            return Err((
                name.clone(),
                format!("`start: after {first}`: there is no population `{first}`{hint}"),
            ));
        }
        // Follow the chain: more steps than populations means a loop.
        let mut current = first.as_str();
        for _ in 0..starts.len() {
            match starts.iter().find(|(other, _)| other == current) {
                Some((_, Start::AfterPopulation(next))) if next == name => {
                    return Err((
                        name.clone(),
                        format!(
                            "populations `{name}` and `{first}` wait for each other (`start: after`): one of them must start first"
                        ),
                    ));
                }
                Some((_, Start::AfterPopulation(next))) => current = next,
                _ => break,
            }
        }
    }
    Ok(())
}

/// The document of one population: the file's top level without `populations:`, with the
/// population's keys put over it (`vars` merged name by name, every other key replaced) and its
/// `start:` left out. Returns it with the keys the population set.
pub fn overlay(file: &Mapping, population: &Mapping) -> (Value, Vec<String>) {
    let mut document = file.clone();
    document.remove("populations");
    let mut keys = Vec::new();
    for (key, value) in population {
        let Some(name) = key.as_str() else { continue };
        if name == "start" {
            continue;
        }
        keys.push(name.to_owned());
        match (name, document.get_mut(key), value) {
            ("vars", Some(Value::Mapping(vars)), Value::Mapping(more)) => {
                for (var, text) in more {
                    vars.insert(var.clone(), text.clone());
                }
            }
            _ => {
                document.insert(key.clone(), value.clone());
            }
        }
    }
    (Value::Mapping(document), keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts(list: &[(&str, &str)]) -> Vec<(String, Start)> {
        list.iter()
            .map(|(name, start)| {
                (
                    (*name).to_owned(),
                    Start::parse(start).unwrap_or(Start::Together),
                )
            })
            .collect()
    }

    #[test]
    fn start_reads_after_an_offset_and_together() {
        assert_eq!(
            Start::parse("after subscribers"),
            Ok(Start::AfterPopulation("subscribers".into()))
        );
        assert_eq!(
            Start::parse("10s"),
            Ok(Start::After(Duration::from_secs(10)))
        );
        assert_eq!(Start::parse("together"), Ok(Start::Together));
        let error = Start::parse("soon").unwrap_err();
        assert!(error.contains("start: after NAME"), "{error}");
        assert!(Start::parse("after no spaces allowed").is_err());
    }

    #[test]
    fn starts_must_name_another_population_and_never_loop() {
        assert_eq!(
            check_starts(&starts(&[("subs", "together"), ("pubs", "after subs")])),
            Ok(())
        );
        let (who, why) = check_starts(&starts(&[("subs", "1s"), ("pubs", "after sub")]))
            .err()
            .unwrap_or_default();
        assert_eq!(who, "pubs");
        assert!(why.contains("did you mean `subs`"), "{why}");
        let (who, why) = check_starts(&starts(&[("a", "after a")]))
            .err()
            .unwrap_or_default();
        assert_eq!(who, "a");
        assert!(why.contains("itself"), "{why}");
        let looped = check_starts(&starts(&[
            ("a", "after c"),
            ("b", "after a"),
            ("c", "after b"),
        ]));
        assert!(
            looped.is_err_and(|(_, why)| why.contains("wait for each other")),
            "a loop through three"
        );
    }

    #[test]
    fn overlay_merges_vars_replaces_other_keys_and_drops_start() -> Result<(), String> {
        let file: Mapping = serde_yaml_ng::from_str(
            "name: x\nvars: {a: 1, b: 2}\nload: {connections: 5}\npopulations: {p: {}}\n",
        )
        .map_err(|e| e.to_string())?;
        let population: Mapping =
            serde_yaml_ng::from_str("vars: {b: 3}\nload: {connections: 1}\nstart: after q\n")
                .map_err(|e| e.to_string())?;
        let (document, keys) = overlay(&file, &population);
        assert_eq!(keys, vec!["vars".to_owned(), "load".to_owned()]);
        let text = serde_yaml_ng::to_string(&document).map_err(|e| e.to_string())?;
        assert_eq!(
            text,
            "name: x\nvars:\n  a: 1\n  b: 3\nload:\n  connections: 1\n"
        );
        Ok(())
    }

    #[test]
    fn names_are_label_safe() {
        assert!(name_problem("publishers").is_none());
        assert!(name_problem("pub-1_a").is_none());
        assert!(name_problem("with space").is_some());
        assert!(name_problem("a=b").is_some());
        assert!(name_problem("").is_some());
    }
}
