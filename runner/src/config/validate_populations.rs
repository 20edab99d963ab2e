//! A file with `populations:` → one validated [`Scenario`] per population (each population's
//! document is the file's keys with its own over them, `population::overlay`, checked by the same
//! [`Validator`] as a one-population file, its errors pointing under `populations.NAME` for the
//! keys it set), their `start:`s (no unknown name, no loop), and the rules' `{population=NAME}`
//! labels. The file's `thresholds` and `regressions` stay the whole run's; each population keeps
//! only the abort rules it can judge on its own figures (unlabelled ones, and its own).

use super::population::{self, RawPopulations, Start};
use super::raw::RawFile;
use super::validate::Validator;
use super::{ConfigError, Overrides, Population, Scenario, closest, locate};
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// Validate every population of the file `text` (parsed as `raw`, and as `document` with any
/// `--set` applied).
pub(super) fn validate(
    file: &Path,
    text: &str,
    raw: RawFile,
    document: &Value,
    populations: RawPopulations,
    overrides: &Overrides,
) -> Result<Scenario, ConfigError> {
    let at =
        |path: &[&str], message: String| ConfigError::at(file, locate::locate(text, path), message);
    if populations.0.is_empty() {
        return Err(at(
            &["populations"],
            "`populations:` is empty; name at least one, e.g. `subscribers: {load: {connections: 100}}`, or remove it".into(),
        ));
    }
    if raw.load.as_ref().is_some_and(|load| load.search.is_some())
        || populations.0.iter().any(|(_, p)| p.searches())
    {
        return Err(at(
            &["populations"],
            "a capacity search (`load.search`) runs one population; split the file, or search one population's load at a time".into(),
        ));
    }
    let mut starts = Vec::new();
    for (name, raw_population) in &populations.0 {
        let start = match &raw_population.start {
            None => Start::Together,
            Some(text) => Start::parse(text)
                .map_err(|message| at(&["populations", name, "start"], message))?,
        };
        starts.push((name.clone(), start));
    }
    population::check_starts(&starts)
        .map_err(|(name, message)| at(&["populations", &name, "start"], message))?;

    let empty = Mapping::new();
    let top = document.as_mapping().unwrap_or(&empty);
    let listed = top
        .get("populations")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    let mut validated = Vec::new();
    let mut whole: Option<Scenario> = None;
    for (name, start) in starts {
        let own = listed
            .get(name.as_str())
            .and_then(Value::as_mapping)
            .unwrap_or(&empty);
        let (population_document, keys) = population::overlay(top, own);
        let raw_population: RawFile =
            serde_yaml_ng::from_value(population_document).map_err(|error| {
                at(
                    &["populations", &name],
                    format!("population `{name}`: {error}"),
                )
            })?;
        let validator = Validator {
            file,
            text,
            population: Some((&name, &keys)),
        };
        let scenario = validator.validate(raw_population, overrides)?;
        if whole.is_none() {
            whole = Some(scenario.clone());
        }
        validated.push(Population {
            name,
            start,
            scenario,
            keys,
        });
    }
    let whole = whole.ok_or_else(|| ConfigError::at(file, None, "`populations:` is empty"))?;
    let names: Vec<&str> = validated.iter().map(|p| p.name.as_str()).collect();
    for rule in &whole.thresholds {
        if let Some(name) = &rule.population
            && !names.contains(&name.as_str())
        {
            let hint = closest(name, names.iter().copied())
                .map(|close| format!("did you mean `{close}`?"))
                .unwrap_or_else(|| format!("the populations are {}", names.join(", ")));
            let position = text
                .find(&rule.expression)
                .map(|offset| locate::position_of(text, offset));
            return Err(ConfigError::at(
                file,
                position,
                format!(
                    "threshold `{}`: there is no population `{name}`; {hint}",
                    rule.expression
                ),
            ));
        }
    }
    // Each population judges the abort rules that concern it on its own figures as it runs.
    for population in &mut validated {
        population.scenario.thresholds = whole
            .thresholds
            .iter()
            .filter(|rule| {
                rule.abort
                    && rule
                        .population
                        .as_ref()
                        .is_none_or(|name| *name == population.name)
            })
            .map(|rule| super::threshold::Threshold {
                population: None,
                ..rule.clone()
            })
            .collect();
        population.scenario.regressions = Vec::new();
        population.scenario.baseline = None;
    }
    Ok(Scenario {
        populations: validated,
        ..whole
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Overrides, Scenario, Target};
    use std::path::Path;

    const FILE: &str = "version: 1
name: fanout
target: ws://127.0.0.1:9001/
module: sub.wasm
vars:
  role: subscriber
  topic: t
load:
  connections: 10
  duration: 5s
populations:
  subscribers: {}
  publishers:
    module: pub.wasm
    start: after subscribers
    vars:
      role: publisher
    load:
      connections: 1
      duration: 3s
thresholds:
  - round_trip{population=publishers} p99 < 50ms
  - checks pass_rate == 100%
  - rule: round_trip{population=subscribers} p99 < 1s
    abort: true
";

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::from_text(Path::new("dir/f.yaml"), text, &Overrides::default(), |_| {
            None
        })
        .map_err(|error| error.to_string())
    }

    #[test]
    fn each_population_is_the_file_with_its_own_keys_over_it() -> Result<(), String> {
        let scenario = parse(FILE)?;
        let names: Vec<&str> = scenario
            .populations
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["subscribers", "publishers"], "in file order");
        let [subscribers, publishers] = &scenario.populations[..] else {
            return Err("two populations".into());
        };
        assert_eq!(subscribers.scenario.load.connections.get(), 10);
        assert_eq!(publishers.scenario.load.connections.get(), 1);
        assert_eq!(publishers.scenario.module, Path::new("dir/pub.wasm"));
        assert_eq!(subscribers.scenario.module, Path::new("dir/sub.wasm"));
        assert_eq!(publishers.scenario.vars["role"], "publisher");
        assert_eq!(
            publishers.scenario.vars["topic"], "t",
            "vars merge name by name"
        );
        assert!(
            matches!(&publishers.scenario.target, Target::Remote(url) if url == "ws://127.0.0.1:9001/")
        );
        assert_eq!(
            publishers.start,
            super::Start::AfterPopulation("subscribers".into())
        );
        assert_eq!(
            scenario.thresholds.len(),
            3,
            "the file's rules are the run's"
        );
        assert_eq!(scenario.connections(), 11);
        // The abort rule labelled for the subscribers is theirs alone, judged on their figures.
        assert_eq!(subscribers.scenario.thresholds.len(), 1);
        assert_eq!(subscribers.scenario.thresholds[0].population, None);
        assert!(publishers.scenario.thresholds.is_empty());
        Ok(())
    }

    #[test]
    fn mistakes_name_the_population_line_and_column() {
        let error = parse(&FILE.replace("start: after subscribers", "start: after subscriber"))
            .err()
            .unwrap_or_default();
        assert!(
            error.starts_with("dir/f.yaml:15:5: `start: after subscriber`: there is no population `subscriber`; did you mean `subscribers`?"),
            "{error}"
        );
        let error = parse(&FILE.replace(
            "    load:\n      connections: 1",
            "    lod:\n      connections: 1",
        ))
        .err()
        .unwrap_or_default();
        assert!(
            error.starts_with("dir/f.yaml:18:5:") && error.contains("unknown field `lod`"),
            "{error}"
        );
        let error = parse(&FILE.replace("population=publishers", "population=publisher"))
            .err()
            .unwrap_or_default();
        assert!(
            error.starts_with("dir/f.yaml:22:5: threshold `round_trip{population=publisher} p99 < 50ms`: there is no population `publisher`; did you mean `publishers`?"),
            "{error}"
        );
        // A population's bad value points at its own key, not the file's.
        let error = parse(&FILE.replace("      duration: 3s", "      duration: 3"))
            .err()
            .unwrap_or_default();
        assert!(
            error.starts_with("dir/f.yaml:20:7: `load.duration`"),
            "{error}"
        );
        let no_load = FILE.replace("load:\n  connections: 10\n  duration: 5s\n", "");
        let error = parse(&no_load).err().unwrap_or_default();
        assert!(
            error.contains("population `subscribers` has no `load`"),
            "{error}"
        );
        let goodbye = "goodbye:\n  - send: bye\n";
        let error = parse(&format!("{FILE}{goodbye}")).err().unwrap_or_default();
        assert!(
            error.starts_with("dir/f.yaml:26:1: `goodbye:` steps belong to a flow"),
            "{error}"
        );
        let error = parse(&FILE.replace("start: after subscribers", "start: after publishers"))
            .err()
            .unwrap_or_default();
        assert!(error.contains("cannot start after itself"), "{error}");
    }
}
