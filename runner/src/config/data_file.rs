//! Reading `data: FILE` into a [`DataTable`]: CSV with a header row (`.csv`, quoting as RFC 4180,
//! through the `csv` crate), or JSON objects of scalar values, one per row (`.jsonl` / `.ndjson`:
//! one object per line; `.json`: an array of objects, or objects one after another). Numbers and
//! booleans become their text, `null` the empty text. Every mistake is a [`FileError`] with the
//! data file's line and column: ragged rows, duplicate or empty column names, nested values, keys
//! that differ from the first object's, an empty file, text that is not UTF-8. The caller turns it
//! into a `ConfigError` naming the data file. The compact table itself lives in `data`.

use super::data::{DataTable, TableBuilder};
use super::locate::position_of;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::path::Path;

/// A mistake in a data file, at a 1-based (line, column) when known.
#[derive(Debug, PartialEq, Eq)]
pub struct FileError {
    /// Where in the data file.
    pub position: Option<(usize, usize)>,
    /// What is wrong and the fix.
    pub message: String,
}

impl FileError {
    fn at(position: (usize, usize), message: impl Into<String>) -> Self {
        FileError {
            position: Some(position),
            message: message.into(),
        }
    }

    fn nowhere(message: impl Into<String>) -> Self {
        FileError {
            position: None,
            message: message.into(),
        }
    }
}

/// The formats a data file can have, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.csv`.
    Csv,
    /// `.json`, `.jsonl`, `.ndjson`.
    Json,
}

impl Format {
    /// The format of `path`, by extension.
    pub fn of(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Format::Csv),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Parse the bytes of a data file shown as `source`.
pub fn parse(source: &str, format: Format, bytes: &[u8]) -> Result<DataTable, FileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to();
        FileError::at(
            position_of(&String::from_utf8_lossy(&bytes[..at]), at),
            "not UTF-8 text; save the file as UTF-8",
        )
    })?;
    if text.trim().is_empty() {
        return Err(FileError::at(
            (1, 1),
            match format {
                Format::Csv => {
                    "the file is empty; write a header row (e.g. `user,token`) and one line per row"
                }
                Format::Json => {
                    "the file is empty; write one JSON object per row, e.g. {\"user\": \"alice\"}"
                }
            },
        ));
    }
    match format {
        Format::Csv => csv_table(source, text),
        Format::Json => json_table(source, text),
    }
}

/// 1-based column of field `field` (0-based) of the line starting at byte `line_start`.
fn field_column(text: &str, line_start: usize, field: usize) -> usize {
    let line = text[line_start.min(text.len())..]
        .split('\n')
        .next()
        .unwrap_or("");
    let mut quoted = false;
    let mut seen = 0;
    for (at, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                seen += 1;
                if seen == field {
                    return line[..at + 1].chars().count() + 1;
                }
            }
            _ => {}
        }
    }
    if field == 0 {
        1
    } else {
        line.trim_end_matches('\r').chars().count() + 1
    }
}

fn csv_table(source: &str, text: &str) -> Result<DataTable, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .byte_headers()
        .map_err(|error| csv_error(text, &error, &[]))?
        .clone();
    let header_start = header.position().map_or(0, |at| at.byte() as usize);
    let header_line = header.position().map_or(1, |at| at.line() as usize);
    let mut columns: Vec<String> = Vec::with_capacity(header.len());
    for (index, name) in header.iter().enumerate() {
        // The whole text is UTF-8, so is every field.
        let name = String::from_utf8_lossy(name).trim().to_owned();
        let at = (header_line, field_column(text, header_start, index));
        if name.is_empty() {
            return Err(FileError::at(
                at,
                format!(
                    "column {} of the header row has no name; the first line names the columns, e.g. `user,token`",
                    index + 1
                ),
            ));
        }
        if let Some(first) = columns.iter().position(|seen| *seen == name) {
            return Err(FileError::at(
                at,
                format!(
                    "column `{name}` is named twice in the header row (columns {} and {}); rename one",
                    first + 1,
                    index + 1
                ),
            ));
        }
        columns.push(name);
    }
    let mut builder = TableBuilder::new(source.to_owned(), columns, text.len());
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => return Err(csv_error(text, &error, builder.columns())),
        }
        rows += 1;
        for field in record.iter() {
            builder.push(Some(field)).map_err(|message| {
                let line = record.position().map_or(0, |at| at.line() as usize);
                FileError::at((line, 1), message)
            })?;
        }
    }
    if rows == 0 {
        return Err(FileError::at(
            (header_line + 1, 1),
            "no rows after the header row; add one line per row",
        ));
    }
    builder.finish().map_err(FileError::nowhere)
}

fn csv_error(text: &str, error: &csv::Error, columns: &[String]) -> FileError {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let (line, start) = pos
                .as_ref()
                .map_or((0, 0), |at| (at.line() as usize, at.byte() as usize));
            let column = field_column(text, start, (*expected_len as usize).min(*len as usize));
            let names = columns
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            FileError::at(
                (line, column),
                format!(
                    "this row has {len} fields but the header row has {expected_len} ({names}); quote a value that contains a comma (\"a,b\")"
                ),
            )
        }
        _ => {
            let position = error.position().map(|at| {
                (
                    at.line() as usize,
                    field_column(text, at.byte() as usize, 0),
                )
            });
            FileError {
                position,
                message: format!("not valid CSV: {error}"),
            }
        }
    }
}

/// Column layout decided by the first object; later objects must have the same keys.
struct JsonRows {
    builder: Option<TableBuilder>,
    source: String,
    capacity: usize,
    /// Values of the current row, by column.
    cells: Vec<Option<String>>,
    /// Keys and values of the first row, in order, until the columns are known.
    first: Vec<(String, String)>,
    rows: usize,
}

impl JsonRows {
    fn end_row(&mut self) -> Result<(), String> {
        self.rows += 1;
        let Some(builder) = &mut self.builder else {
            let columns: Vec<String> = self.first.iter().map(|(name, _)| name.clone()).collect();
            if columns.is_empty() {
                return Err("the first object has no keys; its keys name the columns".into());
            }
            let mut builder = TableBuilder::new(self.source.clone(), columns, self.capacity);
            for (_, value) in self.first.drain(..) {
                builder.push(Some(value.as_bytes()))?;
            }
            self.cells = vec![None; builder.columns().len()];
            self.builder = Some(builder);
            return Ok(());
        };
        if let Some(missing) = self.cells.iter().position(Option::is_none) {
            return Err(format!(
                "this object has no `{}`; every object needs the keys of the first one ({})",
                builder.columns()[missing],
                quoted_list(builder.columns())
            ));
        }
        for cell in &mut self.cells {
            let value = cell.take().unwrap_or_default();
            builder.push(Some(value.as_bytes()))?;
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        match &self.builder {
            None => {
                if self.first.iter().any(|(name, _)| name == key) {
                    return Err(format!("key `{key}` appears twice in this object"));
                }
                self.first.push((key.to_owned(), value));
            }
            Some(builder) => {
                let Some(column) = builder.columns().iter().position(|name| name == key) else {
                    return Err(format!(
                        "key `{key}` is not in the first object; every object needs the same keys ({})",
                        quoted_list(builder.columns())
                    ));
                };
                if self.cells[column].is_some() {
                    return Err(format!("key `{key}` appears twice in this object"));
                }
                self.cells[column] = Some(value);
            }
        }
        Ok(())
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deserializes one object into the current row.
struct RowSeed<'a>(&'a mut JsonRows);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of names to strings, numbers or booleans (one row)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = map.next_value_seed(ScalarSeed(&key))?;
            self.0.set(&key, value).map_err(de::Error::custom)?;
        }
        self.0.end_row().map_err(de::Error::custom)
    }
}

/// A scalar value as text; anything nested is an error naming its key.
struct ScalarSeed<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for ScalarSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string, number, boolean or null for `{}`", self.0)
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<String, E> {
        Ok(value)
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<String, E> {
        Ok(value.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<String, A::Error> {
        Err(de::Error::custom(nested(self.0)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<String, A::Error> {
        Err(de::Error::custom(nested(self.0)))
    }
}

fn nested(key: &str) -> String {
    format!(
        "`{key}` holds a nested object or list; data values must be strings, numbers or booleans"
    )
}

/// Deserializes a JSON array of row objects.
struct ArraySeed<'a>(&'a mut JsonRows);

impl<'de> DeserializeSeed<'de> for ArraySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JSON objects, one per row")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RowSeed(self.0))?.is_some() {}
        Ok(())
    }
}

fn json_error(error: &serde_json::Error, line_offset: usize) -> FileError {
    let mut message = error.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    FileError::at((error.line() + line_offset, error.column().max(1)), message)
}

fn json_table(source: &str, text: &str) -> Result<DataTable, FileError> {
    let mut rows = JsonRows {
        builder: None,
        source: source.to_owned(),
        capacity: text.len(),
        cells: Vec::new(),
        first: Vec::new(),
        rows: 0,
    };
    if text.trim_start().starts_with('[') {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        ArraySeed(&mut rows)
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end())
            .map_err(|error| json_error(&error, 0))?;
    } else {
        // One object per line: each line is parsed alone, so an error names its own line.
        for (index, line) in text.split('\n').enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut deserializer = serde_json::Deserializer::from_str(line);
            RowSeed(&mut rows)
                .deserialize(&mut deserializer)
                .and_then(|()| deserializer.end())
                .map_err(|error| {
                    let mut found = json_error(&error, index);
                    if error.to_string().contains("trailing characters") {
                        found.message =
                            "more than one JSON value on this line; write one object per line"
                                .into();
                    }
                    found
                })?;
        }
    }
    match rows.builder {
        Some(builder) => builder.finish().map_err(FileError::nowhere),
        None => Err(FileError::at(
            (1, 1),
            "no rows; write one JSON object per row",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<DataTable, FileError> {
        parse("users.csv", Format::Csv, text.as_bytes())
    }

    fn json(text: &str) -> Result<DataTable, FileError> {
        parse("users.jsonl", Format::Json, text.as_bytes())
    }

    #[test]
    fn csv_rows_with_quoting() -> Result<(), FileError> {
        let table = csv("user,token\nalice,t-1\r\n\"bob, jr\",\"say \"\"hi\"\"\"\n\ncarol,\n")?;
        assert_eq!(table.columns(), ["user", "token"]);
        assert_eq!(table.rows(), 3);
        assert_eq!(table.value(0, "token"), Some("t-1"));
        assert_eq!(table.value(1, "user"), Some("bob, jr"));
        assert_eq!(table.value(1, "token"), Some("say \"hi\""));
        assert_eq!(table.value(2, "token"), Some(""));
        assert_eq!(table.source(), "users.csv");
        Ok(())
    }

    #[test]
    fn a_ragged_csv_row_names_its_line_and_column() {
        let error = csv("user,token\nalice,t-1\nbob,t-2,extra\n").unwrap_err();
        assert_eq!(error.position, Some((3, 9)), "{error:?}");
        assert!(
            error
                .message
                .contains("3 fields but the header row has 2 (`user`, `token`)"),
            "{error:?}"
        );
        let error = csv("user,token\nalice\n").unwrap_err();
        assert_eq!(error.position, Some((2, 6)), "{error:?}");
    }

    #[test]
    fn bad_csv_headers_and_empty_files() {
        let error = csv("user,token,user\na,b,c\n").unwrap_err();
        assert_eq!(error.position, Some((1, 12)), "{error:?}");
        assert!(error.message.contains("named twice"), "{error:?}");
        let error = csv("user,,x\n1,2,3\n").unwrap_err();
        assert_eq!(error.position, Some((1, 6)), "{error:?}");
        assert!(error.message.contains("has no name"), "{error:?}");
        let error = csv(" \n").unwrap_err();
        assert_eq!(error.position, Some((1, 1)));
        assert!(error.message.contains("empty"), "{error:?}");
        let error = csv("user,token\n").unwrap_err();
        assert_eq!(error.position, Some((2, 1)));
        assert!(error.message.contains("no rows"), "{error:?}");
        let error = parse("x.csv", Format::Csv, b"user\nal\xffice\n").unwrap_err();
        assert_eq!(error.position, Some((2, 3)));
        assert!(error.message.contains("UTF-8"), "{error:?}");
    }

    #[test]
    fn json_lines_and_arrays() -> Result<(), FileError> {
        let table = json(
            "{\"user\": \"alice\", \"n\": 1, \"ok\": true}\n\n{\"n\": 2.5, \"ok\": false, \"user\": \"b\\u00f6b\"}\n",
        )?;
        assert_eq!(table.columns(), ["user", "n", "ok"]);
        assert_eq!(table.value(1, "user"), Some("böb"));
        assert_eq!(table.value(1, "n"), Some("2.5"));
        assert_eq!(table.value(0, "ok"), Some("true"));
        let table = parse(
            "u.json",
            Format::Json,
            b"[\n  {\"user\": \"a\", \"v\": null},\n  {\"user\": \"b\", \"v\": 7}\n]\n",
        )?;
        assert_eq!(table.rows(), 2);
        assert_eq!(table.value(0, "v"), Some(""));
        assert_eq!(table.value(1, "v"), Some("7"));
        Ok(())
    }

    #[test]
    fn json_mistakes_name_line_and_column() {
        let error = json("{\"user\": \"a\"}\n{\"user\": {\"first\": \"b\"}}\n").unwrap_err();
        assert_eq!(error.position.map(|at| at.0), Some(2), "{error:?}");
        assert!(error.message.contains("`user` holds a nested"), "{error:?}");
        let error = json("{\"user\": \"a\", \"t\": 1}\n{\"user\": \"b\"}\n").unwrap_err();
        assert_eq!(error.position.map(|at| at.0), Some(2), "{error:?}");
        assert!(error.message.contains("has no `t`"), "{error:?}");
        let error = json("{\"user\": \"a\"}\n{\"usr\": \"b\"}\n").unwrap_err();
        assert!(
            error.message.contains("`usr` is not in the first"),
            "{error:?}"
        );
        let error = json("{\"user\": \"a\"}\n\n{\"user\": \"b\",}\n").unwrap_err();
        assert_eq!(error.position.map(|at| at.0), Some(3), "{error:?}");
        let error = json("[1]").unwrap_err();
        assert!(error.message.contains("JSON object"), "{error:?}");
    }

    /// A million rows load (no timing asserted: `volley check` on such a file prints nothing, the
    /// report of issue 10 gives the measured time and memory).
    #[test]
    fn a_million_csv_rows_load_into_about_their_size() -> Result<(), FileError> {
        let mut text = String::from("user,token\n");
        for row in 0..1_000_000 {
            text.push_str(&format!("user-{row},token-{row:08}\n"));
        }
        let table = csv(&text)?;
        assert_eq!(table.rows(), 1_000_000);
        assert_eq!(table.value(999_999, "token"), Some("token-00999999"));
        // Values plus two 4-byte offsets a row: under 1.5 times the file.
        assert!(
            table.heap_bytes() < text.len() * 3 / 2,
            "{}",
            table.heap_bytes()
        );
        Ok(())
    }
}
