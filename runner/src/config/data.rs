//! [`DataTable`]: the rows of `data:` (inline, or read from a CSV / JSON file by `data_file`),
//! stored compactly so a million rows cost about the file's size once, shared by `Arc` and never
//! copied per connection: one list of column names, one text arena holding every value back to
//! back, and one end offset per cell (row-major). Also [`DataOrder`], which row a connection
//! takes. Picking a row at run time lives in `load::rows`; reading files in `data_file`.

use std::fmt;

/// `data_order:`: which data row a connection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataOrder {
    /// VU `i` reads row `i % rows` for all its iterations (the default).
    #[default]
    PerVu,
    /// Each new iteration (connection) takes the next row, wrapping around.
    PerIteration,
    /// Each row is used by at most one iteration in the whole run; a VU that finds none left stops.
    Unique,
    /// A row drawn from `seed`, the VU and the iteration: the same on every run with that seed.
    Random,
}

impl DataOrder {
    /// Every order, by its name in the file.
    pub const ALL: [DataOrder; 4] = [
        DataOrder::PerVu,
        DataOrder::PerIteration,
        DataOrder::Unique,
        DataOrder::Random,
    ];

    /// The name written in the file (`per_vu`, …).
    pub fn name(self) -> &'static str {
        match self {
            DataOrder::PerVu => "per_vu",
            DataOrder::PerIteration => "per_iteration",
            DataOrder::Unique => "unique",
            DataOrder::Random => "random",
        }
    }

    /// Parse a name written in the file.
    pub fn parse(text: &str) -> Option<DataOrder> {
        DataOrder::ALL
            .into_iter()
            .find(|order| order.name() == text)
    }
}

impl fmt::Display for DataOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a table could not be built: the text of the message; the caller adds where.
pub type TableError = String;

/// Rows of named text values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DataTable {
    /// Where the rows came from, as shown to people: `inline` or the file's path.
    source: String,
    columns: Vec<String>,
    /// Every value, back to back.
    arena: String,
    /// End offset in `arena` of each cell, row-major; a cell starts where the previous one ends.
    ends: Vec<u32>,
    /// One bit per cell, set when that row does not define that column (inline rows may differ);
    /// empty when every cell is present.
    absent: Vec<u64>,
}

impl fmt::Debug for DataTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a million rows (or their secrets) in a debug dump.
        f.debug_struct("DataTable")
            .field("source", &self.source)
            .field("columns", &self.columns)
            .field("rows", &self.rows())
            .field("bytes", &self.arena.len())
            .finish()
    }
}

impl DataTable {
    /// Where the rows came from (`inline`, or the file's path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Column names, in the order first seen.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Number of rows (0 when the file has no `data`).
    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.columns.len()).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// The position of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column == name)
    }

    /// Row `row`'s value of `name`, if the table has that row and the row defines `name`.
    pub fn value(&self, row: usize, name: &str) -> Option<&str> {
        let column = self.column(name)?;
        self.cell(row, column)
    }

    /// Row `row`'s value in column `column`.
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        let width = self.columns.len();
        if column >= width || row >= self.rows() {
            return None;
        }
        let index = row * width + column;
        if self
            .absent
            .get(index / 64)
            .is_some_and(|bits| bits & (1 << (index % 64)) != 0)
        {
            return None;
        }
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1] as usize,
        };
        self.arena.get(start..self.ends[index] as usize)
    }

    /// A value of `name` for load-time checks: the first row that defines it.
    pub fn sample(&self, name: &str) -> Option<&str> {
        let column = self.column(name)?;
        (0..self.rows()).find_map(|row| self.cell(row, column))
    }

    /// Bytes held (values and offsets), for the memory figure in docs and tests.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * 4 + self.absent.capacity() * 8
    }
}

/// Builds a [`DataTable`] row by row: the loaders push cells in column order.
pub struct TableBuilder {
    table: DataTable,
    arena: Vec<u8>,
    /// Cells pushed in the current row.
    in_row: usize,
}

impl TableBuilder {
    /// A builder for rows with these columns; `capacity` is a guess of the values' total bytes.
    pub fn new(source: String, columns: Vec<String>, capacity: usize) -> Self {
        TableBuilder {
            table: DataTable {
                source,
                columns,
                ..DataTable::default()
            },
            arena: Vec::with_capacity(capacity),
            in_row: 0,
        }
    }

    /// The columns.
    pub fn columns(&self) -> &[String] {
        &self.table.columns
    }

    /// Append the next cell of the current row (`None`: this row does not define the column).
    pub fn push(&mut self, value: Option<&[u8]>) -> Result<(), TableError> {
        if let Some(value) = value {
            self.arena.extend_from_slice(value);
        } else {
            let index = self.table.ends.len();
            if self.table.absent.len() <= index / 64 {
                self.table.absent.resize(index / 64 + 1, 0);
            }
            self.table.absent[index / 64] |= 1 << (index % 64);
        }
        let end = u32::try_from(self.arena.len()).map_err(|_| {
            "the data is larger than 4 GiB of values; split it into several files and runs"
                .to_owned()
        })?;
        self.table.ends.push(end);
        self.in_row += 1;
        if self.in_row == self.table.columns.len() {
            self.in_row = 0;
        }
        Ok(())
    }

    /// The table. Fails when the values are not UTF-8 (loaders check their input first).
    pub fn finish(mut self) -> Result<DataTable, TableError> {
        if self.in_row != 0 {
            return Err("the last row is incomplete".into());
        }
        self.arena.shrink_to_fit();
        self.table.ends.shrink_to_fit();
        let absent_words = self.table.ends.len().div_ceil(64);
        if !self.table.absent.is_empty() {
            self.table.absent.resize(absent_words, 0);
        }
        self.table.arena = String::from_utf8(self.arena)
            .map_err(|error| format!("the values are not UTF-8 text: {error}"))?;
        Ok(self.table)
    }
}

/// Inline rows (`data:` as a YAML list of mappings, already text): columns are every name any row
/// uses, in the order first seen; a row without a name leaves it to `vars`.
pub fn from_rows(rows: &[Vec<(String, String)>]) -> Result<DataTable, TableError> {
    let mut columns: Vec<String> = Vec::new();
    for row in rows {
        for (name, _) in row {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    let bytes = rows.iter().flatten().map(|(_, value)| value.len()).sum();
    let mut builder = TableBuilder::new("inline".into(), columns.clone(), bytes);
    for row in rows {
        for column in &columns {
            let value = row
                .iter()
                .find(|(name, _)| name == column)
                .map(|(_, value)| value.as_bytes());
            builder.push(value)?;
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, &str)]) -> Vec<(String, String)> {
        cells
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn inline_rows_keep_their_values_and_leave_missing_names_absent() -> Result<(), TableError> {
        let table = from_rows(&[
            row(&[("user", "alice"), ("token", "t-1")]),
            row(&[("user", "bob"), ("token", ""), ("room", "vip")]),
            row(&[("user", "carol"), ("token", "t-3")]),
        ])?;
        assert_eq!(table.rows(), 3);
        assert_eq!(table.columns(), ["user", "token", "room"]);
        assert_eq!(table.value(0, "user"), Some("alice"));
        assert_eq!(table.value(1, "token"), Some(""), "empty is a value");
        assert_eq!(table.value(1, "room"), Some("vip"));
        assert_eq!(table.value(0, "room"), None, "absent falls back to vars");
        assert_eq!(table.value(2, "room"), None);
        assert_eq!(table.value(2, "token"), Some("t-3"));
        assert_eq!(table.value(3, "user"), None, "no such row");
        assert_eq!(table.sample("room"), Some("vip"));
        Ok(())
    }

    #[test]
    fn no_rows_is_an_empty_table() -> Result<(), TableError> {
        let table = from_rows(&[])?;
        assert!(table.is_empty());
        assert_eq!(table.value(0, "x"), None);
        Ok(())
    }

    #[test]
    fn orders_parse_by_name() {
        for order in DataOrder::ALL {
            assert_eq!(DataOrder::parse(order.name()), Some(order));
        }
        assert_eq!(DataOrder::parse("sequential"), None);
        assert_eq!(DataOrder::default(), DataOrder::PerVu);
    }
}
