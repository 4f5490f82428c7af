//! Reading CSV files into a [`Frame`] of raw columns, and turning a frame into
//! a [`Dataset`] (training) or into a model's input matrix (prediction).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::limits::{Bounded, shorten};
use crate::{Dataset, Error, FeatureKind, InputColumn, ReadLimits, Result, Signature, Task};

/// What to do with a category that was not seen when the encoding was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCategory {
    /// Refuse the input with [`Error::UnseenCategory`] (scikit-learn's `handle_unknown="error"`).
    #[default]
    Error,
    /// Encode it as "none of the known categories": all one-hot columns zero
    /// (scikit-learn's `handle_unknown="ignore"`). Its code is `-1`.
    Ignore,
}

/// The code given to an unseen category under [`UnknownCategory::Ignore`].
pub const UNKNOWN_CODE: f64 = -1.0;

/// Which kind of supervised task a target column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Class labels.
    Classification,
    /// Real values.
    Regression,
}

/// How [`Frame::to_dataset`] reads a frame.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The target column, if any.
    pub target: Option<String>,
    /// Force the task; otherwise a text or integer-valued target with at most
    /// [`LoadOptions::MAX_INFERRED_CLASSES`] distinct values is read as classes,
    /// anything else as real values.
    pub task: Option<TaskKind>,
    /// Columns kept aside as sensitive attributes (not features).
    pub sensitive: Vec<String>,
    /// Columns to leave out.
    pub drop: Vec<String>,
    /// Columns to read as categories even if they look numeric.
    pub categorical: Vec<String>,
}

impl LoadOptions {
    /// The most distinct integer values a numeric target may have to be read as
    /// class labels when the task is not given.
    pub const MAX_INFERRED_CLASSES: usize = 50;

    /// Options with a target column.
    pub fn with_target(target: impl Into<String>) -> Self {
        Self {
            target: Some(target.into()),
            ..Self::default()
        }
    }
}

/// The cells that read as missing unless told otherwise: an empty cell and
/// the markers pandas' `read_csv` reads as NaN by default.
pub const DEFAULT_MISSING_MARKERS: &[&str] = &[
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "#N/A", "#N/A N/A", "#NA", "<NA>",
];

/// The environment variable that replaces [`DEFAULT_MISSING_MARKERS`]: a
/// comma-separated list (an empty item, as in `NA,,?`, is the empty cell).
pub const MISSING_MARKERS_ENV: &str = "MLSDK_NA_VALUES";

/// A table of raw text columns as read from a CSV file with a header.
///
/// Cells are kept as text; a cell equal to one of the frame's missing-value
/// markers ([`DEFAULT_MISSING_MARKERS`] unless
/// [`Frame::with_missing_markers`] says otherwise) is a missing value.
/// Feature columns read missing values as NaN ([`Dataset::with_missing`]);
/// a target or sensitive column with one is refused with its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    names: Vec<String>,
    columns: Vec<Vec<String>>,
    lines: Vec<u64>,
    by_name: HashMap<String, usize>,
    missing: Vec<String>,
}

fn default_markers() -> Vec<String> {
    DEFAULT_MISSING_MARKERS.iter().map(|m| (*m).to_string()).collect()
}

/// The most column names an error message lists before saying how many more there are.
const NAMES_IN_MESSAGES: usize = 20;

/// The most characters of one name an error message quotes.
const NAME_IN_MESSAGES: usize = 80;

/// Column names for a message: the first [`NAMES_IN_MESSAGES`], then a count.
fn name_list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(NAMES_IN_MESSAGES)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_IN_MESSAGES {
        s += &format!(" and {} more", names.len() - NAMES_IN_MESSAGES);
    }
    s
}

impl Frame {
    /// Read a CSV file with a header line, within the default [`ReadLimits`].
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, and as [`Frame::from_csv_reader`].
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Self> {
        Self::read_csv_with(path, &ReadLimits::default())
    }

    /// Read a CSV file with a header line within `limits`.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, and as [`Frame::from_csv_reader_with`].
    pub fn read_csv_with(path: impl AsRef<Path>, limits: &ReadLimits) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_csv_reader_with(std::io::BufReader::new(file), limits)
    }

    /// Read CSV text with a header line, within the default [`ReadLimits`].
    ///
    /// # Errors
    /// As [`Frame::from_csv_reader_with`].
    pub fn from_csv_reader(reader: impl Read) -> Result<Self> {
        Self::from_csv_reader_with(reader, &ReadLimits::default())
    }

    /// Read CSV text with a header line within `limits`: the input, each
    /// line and each field are bounded before they are buffered, so an
    /// endless or binary stream ends in an error, not in exhausted memory.
    /// Time and memory grow linearly with the input.
    ///
    /// # Errors
    /// [`Error::Csv`] naming the line for a missing or duplicate header, a row
    /// of the wrong width or invalid UTF-8; [`Error::LimitExceeded`] for input
    /// past a bound; [`Error::Empty`] when there are no data rows.
    pub fn from_csv_reader_with(reader: impl Read, limits: &ReadLimits) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(Bounded::new(reader, *limits));
        let names: Vec<String> = match rdr.headers() {
            Ok(h) => h.iter().map(|h| h.trim().to_string()).collect(),
            Err(e) => return Err(read_error(&rdr, e, 1)),
        };
        if names.is_empty() || names.iter().all(String::is_empty) {
            return Err(Error::Csv {
                line: 1,
                message: "missing header".into(),
            });
        }
        if names.len() > limits.max_columns {
            return Err(Error::LimitExceeded {
                what: format!("the header's {} columns", names.len()),
                limit: format!("{} columns", limits.max_columns),
                hint: "set MLSDK_CSV_MAX_COLUMNS, or ReadLimits::max_columns, to read more".into(),
            });
        }
        let mut by_name = HashMap::with_capacity(names.len());
        for (j, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err(Error::Csv {
                    line: 1,
                    message: format!("empty column name in header (column {})", j + 1),
                });
            }
            check_field(n, 1, limits)?;
            if by_name.insert(n.clone(), j).is_some() {
                return Err(Error::Csv {
                    line: 1,
                    message: format!("duplicate column '{}'", shorten(n, NAME_IN_MESSAGES)),
                });
            }
        }
        let mut columns = vec![Vec::new(); names.len()];
        let mut lines = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let line = rdr.position().line();
            match rdr.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(read_error(&rdr, e, line)),
            }
            let line = record.position().map_or(line, |p| p.line());
            if record.len() == 1 && record[0].trim().is_empty() && names.len() > 1 {
                continue; // blank line
            }
            if record.len() != names.len() {
                return Err(Error::Csv {
                    line,
                    message: format!("expected {} fields, found {}", names.len(), record.len()),
                });
            }
            for (j, field) in record.iter().enumerate() {
                check_field(field, line, limits)?;
                columns[j].push(field.trim().to_string());
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(Error::Empty {
                op: "read CSV",
                what: "data rows",
            });
        }
        Ok(Self {
            names,
            columns,
            lines,
            by_name,
            missing: default_markers(),
        })
    }

    /// Build a frame from named text columns (all of the same length).
    ///
    /// # Errors
    /// Length mismatch, duplicate names, or no rows.
    pub fn from_columns(columns: Vec<(String, Vec<String>)>) -> Result<Self> {
        let n = columns.first().map_or(0, |c| c.1.len());
        if n == 0 {
            return Err(Error::Empty {
                op: "building a table from columns",
                what: "rows",
            });
        }
        let mut names = Vec::new();
        let mut data = Vec::new();
        let mut by_name = HashMap::new();
        for (name, col) in columns {
            if col.len() != n {
                return Err(Error::shape(
                    "Frame::from_columns",
                    format!("{n} rows"),
                    format!("{} rows in '{name}'", col.len()),
                ));
            }
            if by_name.insert(name.clone(), names.len()).is_some() {
                return Err(Error::invalid("columns", format!("duplicate column '{name}'")));
            }
            names.push(name);
            data.push(col);
        }
        Ok(Self {
            names,
            columns: data,
            lines: (0..n as u64).map(|i| i + 2).collect(),
            by_name,
            missing: default_markers(),
        })
    }

    /// Read these cells (compared after trimming) as missing values instead
    /// of [`DEFAULT_MISSING_MARKERS`]; with an empty list every cell is a
    /// value (an empty cell in a numeric column is then a bad number).
    #[must_use]
    pub fn with_missing_markers(mut self, markers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.missing = markers.into_iter().map(|m| m.into().trim().to_string()).collect();
        self
    }

    /// The markers from [`MISSING_MARKERS_ENV`], if it is set.
    pub fn missing_markers_from_env() -> Option<Vec<String>> {
        std::env::var(MISSING_MARKERS_ENV)
            .ok()
            .map(|v| v.split(',').map(|m| m.trim().to_string()).collect())
    }

    /// The cells read as missing values.
    pub fn missing_markers(&self) -> &[String] {
        &self.missing
    }

    /// Whether a cell is a missing value.
    pub fn is_missing(&self, cell: &str) -> bool {
        self.missing.iter().any(|m| m == cell)
    }

    /// The columns with missing values and how many each has, in file order.
    pub fn missing_counts(&self) -> Vec<(String, usize)> {
        self.names
            .iter()
            .zip(&self.columns)
            .filter_map(|(name, col)| {
                let n = col.iter().filter(|c| self.is_missing(c)).count();
                (n > 0).then(|| (name.clone(), n))
            })
            .collect()
    }

    /// Column names in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.lines.len()
    }

    /// The line of the file each row came from (the header is line 1).
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.by_name.get(name).copied().ok_or_else(|| Error::UnknownColumn {
            name: shorten(name, NAME_IN_MESSAGES),
            available: name_list(&self.names),
        })
    }

    /// The raw text of a column; a missing value is an empty string.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`].
    pub fn column(&self, name: &str) -> Result<&[String]> {
        Ok(&self.columns[self.index(name)?])
    }

    /// The text of a column whose every value must be present (a target, a
    /// sensitive attribute).
    ///
    /// # Errors
    /// [`Error::UnknownColumn`]; [`Error::Csv`] naming the line of the first
    /// missing value.
    pub fn complete_column(&self, name: &str) -> Result<&[String]> {
        let raw = self.column(name)?;
        match raw.iter().position(|c| c.is_empty() || self.is_missing(c)) {
            None => Ok(raw),
            Some(i) => Err(Error::Csv {
                line: self.lines[i],
                message: format!(
                    "column '{name}': missing value '{}' (a target or sensitive column must be complete)",
                    raw[i]
                ),
            }),
        }
    }

    /// A feature column parsed as numbers, missing values as NaN.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or [`Error::Csv`] naming the line of the
    /// first value that is not a number or is infinite.
    pub fn numeric_column_with_missing(&self, name: &str) -> Result<Vec<f64>> {
        let raw = self.column(name)?;
        raw.iter()
            .zip(&self.lines)
            .map(|(s, &line)| {
                if self.is_missing(s) {
                    return Ok(f64::NAN);
                }
                parse_number(name, s, line)
            })
            .collect()
    }

    /// A column parsed as finite numbers.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or [`Error::Csv`] naming the line of the first
    /// value that is not a number or is NaN/infinite.
    pub fn numeric_column(&self, name: &str) -> Result<Vec<f64>> {
        let raw = self.complete_column(name)?;
        raw.iter()
            .zip(&self.lines)
            .map(|(s, &line)| parse_number(name, s, line))
            .collect()
    }

    /// Whether a column reads as numbers or as text categories.
    ///
    /// A column is numeric when every value parses as a number. A column where
    /// at least 90% of the values are numbers but some are not is taken to be a
    /// numeric column with bad values, and refused with the first bad line:
    /// name it in [`LoadOptions::categorical`] to read it as text.
    ///
    /// # Errors
    /// [`Error::UnknownColumn`], or [`Error::Csv`] as above.
    pub fn infer_kind(&self, name: &str) -> Result<ColumnType> {
        let raw = self.column(name)?;
        let present = raw.iter().filter(|s| !self.is_missing(s)).count();
        if present == 0 {
            return Err(Error::invalid(name, "every value is missing: drop the column (--drop)"));
        }
        let bad: Vec<usize> = raw
            .iter()
            .enumerate()
            .filter(|(_, s)| !self.is_missing(s) && s.parse::<f64>().is_err())
            .map(|(i, _)| i)
            .collect();
        if bad.is_empty() {
            return Ok(ColumnType::Numeric);
        }
        if bad.len() * 10 <= present {
            let i = bad[0];
            return Err(Error::Csv {
                line: self.lines[i],
                message: format!(
                    "column '{name}' is numeric but '{}' is not a number (declare the column categorical to read it as text)",
                    raw[i]
                ),
            });
        }
        Ok(ColumnType::Text)
    }

    /// Turn the frame into a [`Dataset`]: the target read as classes or values,
    /// sensitive columns set aside, text columns kept as categorical codes
    /// (categories sorted, as scikit-learn's encoders do).
    ///
    /// # Errors
    /// Unknown columns in the options, bad numbers (with their line), a
    /// classification target with fewer than one class, no feature columns left.
    pub fn to_dataset(&self, opts: &LoadOptions) -> Result<Dataset> {
        for name in opts
            .sensitive
            .iter()
            .chain(&opts.drop)
            .chain(&opts.categorical)
            .chain(&opts.target)
        {
            self.index(name)?;
        }
        let mut columns = Vec::new();
        let mut data: Vec<Vec<f64>> = Vec::new();
        for name in &self.names {
            if opts.target.as_deref() == Some(name) || opts.sensitive.contains(name) || opts.drop.contains(name) {
                continue;
            }
            let text = opts.categorical.contains(name) || self.infer_kind(name)? == ColumnType::Text;
            if text {
                let raw = self.column(name)?;
                let categories: Vec<String> = raw
                    .iter()
                    .filter(|s| !self.is_missing(s))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if categories.is_empty() {
                    return Err(Error::invalid(name, "every value is missing: drop the column (--drop)"));
                }
                let code: HashMap<&str, usize> = categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                data.push(
                    raw.iter()
                        .map(|s| code.get(s.as_str()).map_or(f64::NAN, |&c| c as f64))
                        .collect(),
                );
                columns.push(InputColumn {
                    name: name.clone(),
                    kind: FeatureKind::Categorical { categories },
                });
            } else {
                data.push(self.numeric_column_with_missing(name)?);
                columns.push(InputColumn::numeric(name.clone()));
            }
        }
        if columns.is_empty() {
            return Err(Error::Empty {
                op: "the data has no features left",
                what: "feature columns (every column is the target, sensitive or dropped)",
            });
        }
        let n = self.n_rows();
        let features = Array2::from_shape_fn((n, columns.len()), |(i, j)| data[j][i]);
        let mut ds = Dataset::with_missing(features, columns)?;
        if let Some(target) = &opts.target {
            ds = ds.with_target_name(target.clone());
            ds = self.attach_target(ds, target, opts.task)?;
        }
        for s in &opts.sensitive {
            ds = ds.with_sensitive(s.clone(), self.complete_column(s)?.to_vec())?;
        }
        Ok(ds)
    }

    fn attach_target(&self, ds: Dataset, target: &str, task: Option<TaskKind>) -> Result<Dataset> {
        let raw = self.complete_column(target)?;
        let numeric: Option<Vec<f64>> = raw.iter().map(|s| s.parse::<f64>().ok()).collect();
        match (task, numeric) {
            (Some(TaskKind::Regression), None) => Err(Error::invalid(
                "target",
                format!("regression needs a numeric target, column '{target}' has text"),
            )),
            (Some(TaskKind::Regression), Some(_)) => ds.with_values(self.numeric_column(target)?),
            (task, Some(values)) => {
                if values.iter().any(|v| !v.is_finite()) {
                    // Report the line of the first bad value.
                    self.numeric_column(target)?;
                }
                let distinct: BTreeSet<u64> = values.iter().map(|v| v.to_bits()).collect();
                let integral = values.iter().all(|v| v.fract() == 0.0);
                let classes = task == Some(TaskKind::Classification)
                    || (integral && distinct.len() <= LoadOptions::MAX_INFERRED_CLASSES);
                if !classes {
                    return ds.with_values(values);
                }
                let mut uniq: Vec<f64> = distinct.into_iter().map(f64::from_bits).collect();
                uniq.sort_by(f64::total_cmp);
                let labels = values
                    .iter()
                    .map(|v| uniq.iter().position(|u| u == v).unwrap_or(0))
                    .collect();
                ds.with_classes(labels, uniq.iter().map(|u| format!("{u}")).collect())
            }
            (_, None) => {
                let names: Vec<String> = raw.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
                let code: HashMap<&str, usize> = names.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                let labels = raw.iter().map(|s| code[s.as_str()]).collect();
                ds.with_classes(labels, names)
            }
        }
    }

    /// A data set laid out for a model: features encoded as the signature's
    /// inputs (see [`Frame::encode`]), the target (if named) read as the
    /// signature's task reads it, and sensitive columns set aside.
    ///
    /// Class names are matched as text, or as numbers when both sides are
    /// numeric (`1.0` matches class `1`).
    ///
    /// # Errors
    /// As [`Frame::encode`]; an unknown target column; a class the model does
    /// not know (named, with its line); a non-numeric regression target.
    pub fn dataset_for(&self, signature: &Signature, target: Option<&str>, sensitive: &[String]) -> Result<Dataset> {
        let x = self.encode(&signature.inputs, signature.unknown_category)?;
        let mut ds = Dataset::with_missing(x, signature.inputs.clone())?;
        if let Some(target) = target {
            ds = ds.with_target_name(target);
            match &signature.task {
                Task::Classification { classes } => {
                    let raw = self.complete_column(target)?;
                    let labels = raw
                        .iter()
                        .zip(&self.lines)
                        .map(|(s, &line)| {
                            classes.iter().position(|c| same_label(c, s)).ok_or_else(|| Error::Csv {
                                line,
                                message: format!(
                                    "column '{target}': class '{s}' is not one of the model's ({})",
                                    classes.join(", ")
                                ),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    ds = ds.with_classes(labels, classes.clone())?;
                }
                Task::Regression => ds = ds.with_values(self.numeric_column(target)?)?,
                Task::Clustering { .. } => {}
            }
        }
        for s in sensitive {
            ds = ds.with_sensitive(s.clone(), self.complete_column(s)?.to_vec())?;
        }
        Ok(ds)
    }

    /// The input matrix for a model with these input columns: columns matched
    /// by name (others ignored), numbers parsed, categories coded with the
    /// model's categories, missing values as NaN (the model's signature
    /// decides whether it takes them).
    ///
    /// # Errors
    /// [`Error::MissingColumn`] for a column the model needs; [`Error::Csv`]
    /// for a bad number; [`Error::UnseenCategory`] for a category the model
    /// does not know when `unknown` is [`UnknownCategory::Error`].
    pub fn encode(&self, inputs: &[InputColumn], unknown: UnknownCategory) -> Result<Array2<f64>> {
        let mut out = Array2::zeros((self.n_rows(), inputs.len()));
        for (j, input) in inputs.iter().enumerate() {
            if !self.by_name.contains_key(&input.name) {
                return Err(Error::MissingColumn {
                    name: input.name.clone(),
                });
            }
            match &input.kind {
                FeatureKind::Numeric => {
                    for (i, v) in self.numeric_column_with_missing(&input.name)?.into_iter().enumerate() {
                        out[[i, j]] = v;
                    }
                }
                FeatureKind::Categorical { categories } => {
                    let code: HashMap<&str, usize> =
                        categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                    for (i, s) in self.column(&input.name)?.iter().enumerate() {
                        out[[i, j]] = match (code.get(s.as_str()), unknown) {
                            (Some(&c), _) => c as f64,
                            (None, _) if self.is_missing(s) => f64::NAN,
                            (None, UnknownCategory::Ignore) => UNKNOWN_CODE,
                            (None, UnknownCategory::Error) => {
                                return Err(Error::UnseenCategory {
                                    column: input.name.clone(),
                                    value: s.clone(),
                                    known: categories.join(", "),
                                });
                            }
                        };
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A cell that must be a finite number.
fn parse_number(name: &str, s: &str, line: u64) -> Result<f64> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(Error::Csv {
            line,
            message: format!("column '{name}': non-finite value {v}"),
        }),
        Err(_) => Err(Error::Csv {
            line,
            message: format!("column '{name}': '{s}' is not a number"),
        }),
    }
}

fn same_label(class: &str, value: &str) -> bool {
    class == value || matches!((class.parse::<f64>(), value.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

/// The type a CSV column reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Every value is a number.
    Numeric,
    /// Text categories.
    Text,
}

/// A field past the limit, refused with its line.
fn check_field(field: &str, line: u64, limits: &ReadLimits) -> Result<()> {
    if field.len() > limits.max_field_bytes {
        return Err(Error::LimitExceeded {
            what: format!("a field on line {line} of the CSV input"),
            limit: crate::limits::bytes(limits.max_field_bytes as u64),
            hint: "set MLSDK_CSV_MAX_FIELD_BYTES, or ReadLimits::max_field_bytes, for longer fields".into(),
        });
    }
    Ok(())
}

/// The error of a failed read: the bound the reader stopped at, or the CSV error.
fn read_error<R: Read>(rdr: &csv::Reader<Bounded<R>>, e: csv::Error, line: u64) -> Error {
    rdr.get_ref().error().unwrap_or_else(|| csv_error(e, line))
}

fn csv_error(e: csv::Error, line: u64) -> Error {
    let line = e.position().map_or(line, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    Error::Csv { line, message }
}

/// Write a data set as CSV with a header: feature columns (categories as their
/// names), then sensitive columns, then the target (class names or values).
/// [`Frame::from_csv_reader`] reads it back to the same data set. A category
/// unseen in training ([`UNKNOWN_CODE`]) is written as an empty cell.
///
/// # Errors
/// [`Error::Csv`] when writing fails; [`Error::InvalidParameter`] for a
/// categorical code that names no category.
pub fn write_csv(data: &Dataset, writer: impl std::io::Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(writer);
    let mut header = data.feature_names();
    header.extend(data.sensitive().iter().map(|s| s.name.clone()));
    let target_name = data.target_name().unwrap_or("target").to_string();
    if data.target().is_some() {
        header.push(target_name);
    }
    w.write_record(&header).map_err(write_error)?;
    let x = data.features();
    let mut record = Vec::with_capacity(header.len());
    for i in 0..data.n_samples() {
        record.clear();
        for (j, c) in data.columns().iter().enumerate() {
            record.push(match &c.kind {
                FeatureKind::Numeric => format!("{}", x[[i, j]]),
                FeatureKind::Categorical { categories } => category_text(categories, x[[i, j]], &c.name, i)?,
            });
        }
        record.extend(data.sensitive().iter().map(|s| s.values[i].clone()));
        match data.target() {
            Some(crate::Target::Classes { labels, names }) => record.push(names[labels[i]].clone()),
            Some(crate::Target::Values { values }) => record.push(format!("{}", values[i])),
            None => {}
        }
        w.write_record(&record).map_err(write_error)?;
    }
    w.flush().map_err(write_error)
}

/// A failed CSV write, whatever failed (the writer or the flush).
fn write_error(e: impl std::fmt::Display) -> Error {
    Error::Csv {
        line: 0,
        message: format!("write failed: {e}"),
    }
}

/// The text of a categorical code: its category, empty for [`UNKNOWN_CODE`].
fn category_text(categories: &[String], code: f64, column: &str, row: usize) -> Result<String> {
    if code == UNKNOWN_CODE {
        return Ok(String::new());
    }
    if code >= 0.0 && code.fract() == 0.0 && (code as usize) < categories.len() {
        return Ok(categories[code as usize].clone());
    }
    Err(Error::invalid(
        column,
        format!(
            "row {row}: code {code} names none of the column's {} categories",
            categories.len()
        ),
    ))
}

/// Predictions as CSV: a `prediction` column (class names, values or
/// cluster numbers) and, for classifiers that give them, one `proba_<class>`
/// column per class; numbers in shortest round-trip form.
///
/// # Errors
/// [`Error::Csv`] when writing fails.
pub fn write_predictions_csv(pred: &crate::Predictions, writer: impl std::io::Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(writer);
    match pred {
        crate::Predictions::Classification {
            labels,
            probabilities,
            classes,
        } => {
            let mut header = vec!["prediction".to_string()];
            if probabilities.is_some() {
                header.extend(classes.iter().map(|c| format!("proba_{c}")));
            }
            w.write_record(&header).map_err(write_error)?;
            for (i, &l) in labels.iter().enumerate() {
                let name = classes
                    .get(l)
                    .ok_or_else(|| Error::invalid("predictions", format!("label {l} of row {i} names no class")))?;
                let mut row = vec![name.clone()];
                if let Some(p) = probabilities {
                    row.extend(p.row(i).iter().map(|v| format!("{v}")));
                }
                w.write_record(&row).map_err(write_error)?;
            }
        }
        crate::Predictions::Regression { values } => {
            w.write_record(["prediction"]).map_err(write_error)?;
            for v in values {
                w.write_record([format!("{v}")]).map_err(write_error)?;
            }
        }
        crate::Predictions::Clustering { clusters } => {
            w.write_record(["prediction"]).map_err(write_error)?;
            for c in clusters {
                w.write_record([c.to_string()]).map_err(write_error)?;
            }
        }
    }
    w.flush().map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_csv_writes_unknown_categories_as_empty_cells() {
        let frame = Frame::from_csv_reader("c,y\nred,1\nblue,0\n".as_bytes()).unwrap();
        let data = frame.to_dataset(&LoadOptions::with_target("y")).unwrap();
        let sig = data.columns().to_vec();
        let other = Frame::from_csv_reader("c,y\ngreen,1\nblue,0\n".as_bytes()).unwrap();
        let x = other.encode(&sig, UnknownCategory::Ignore).unwrap();
        assert_eq!(x[[0, 0]], UNKNOWN_CODE);
        let (labels, names) = data.classes().unwrap();
        let unseen = Dataset::with_columns(x, sig)
            .unwrap()
            .with_classes(labels.to_vec(), names.to_vec())
            .unwrap()
            .with_target_name("y");
        let mut out = Vec::new();
        write_csv(&unseen, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().nth(1), Some(",1"), "{text}");
        assert_eq!(text.lines().nth(2), Some("blue,0"), "{text}");
    }

    #[test]
    fn predictions_as_csv() {
        let pred = crate::Predictions::Classification {
            labels: ndarray::array![1, 0],
            probabilities: Some(ndarray::array![[0.25, 0.75], [0.5, 0.5]]),
            classes: vec!["no".into(), "yes".into()],
        };
        let mut out = Vec::new();
        write_predictions_csv(&pred, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "prediction,proba_no,proba_yes\nyes,0.25,0.75\nno,0.5,0.5\n"
        );
    }

    fn frame(text: &str) -> Result<Frame> {
        Frame::from_csv_reader(text.as_bytes())
    }

    #[test]
    fn reads_numeric_and_text_columns() {
        let f = frame("a,color,y\n1,red,0\n2.5,blue,1\n3,red,1\n").unwrap();
        let ds = f.to_dataset(&LoadOptions::with_target("y")).unwrap();
        assert_eq!(ds.feature_names(), vec!["a", "color"]);
        assert_eq!(ds.features()[[1, 0]], 2.5);
        // Categories sorted: blue=0, red=1.
        assert_eq!(ds.features().column(1).to_vec(), vec![1.0, 0.0, 1.0]);
        let (labels, names) = ds.classes().unwrap();
        assert_eq!(labels.to_vec(), vec![0, 1, 1]);
        assert_eq!(names, ["0", "1"]);
    }

    #[test]
    fn bad_number_names_its_line() {
        let text = format!("a,y\n{}x,1\n", "1,0\n".repeat(20));
        let err = frame(&text)
            .unwrap()
            .to_dataset(&LoadOptions::with_target("y"))
            .unwrap_err();
        match err {
            Error::Csv { line, .. } => assert_eq!(line, 22),
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn infinity_is_refused_with_its_line() {
        let err = frame("a,y\n1,0\ninf,1\n")
            .unwrap()
            .to_dataset(&LoadOptions::with_target("y"))
            .unwrap_err();
        assert!(matches!(err, Error::Csv { line: 3, .. }), "{err}");
    }

    #[test]
    fn missing_cells_read_as_nan_and_are_counted() {
        let f = frame("a,color,y\n1,red,0\n,blue,1\nNA,,1\n4,NaN,0\n").unwrap();
        assert_eq!(f.missing_counts(), vec![("a".into(), 2), ("color".into(), 2)]);
        let ds = f.to_dataset(&LoadOptions::with_target("y")).unwrap();
        assert_eq!(ds.missing_counts(), vec![("a".into(), 2), ("color".into(), 2)]);
        let x = ds.features();
        assert!(x[[1, 0]].is_nan() && x[[2, 0]].is_nan() && x[[2, 1]].is_nan() && x[[3, 1]].is_nan());
        assert_eq!((x[[0, 0]], x[[3, 0]]), (1.0, 4.0));
        // Categories come from the values present: blue=0, red=1.
        assert_eq!((x[[0, 1]], x[[1, 1]]), (1.0, 0.0));
        match ds.require_complete("logistic").unwrap_err() {
            Error::MissingValues {
                op,
                column,
                count,
                hint,
            } => {
                assert_eq!((op.as_str(), column.as_str(), count), ("logistic", "a", 2));
                assert!(hint.contains("impute"), "{hint}");
            }
            e => panic!("unexpected {e}"),
        }
        // Prediction input keeps them too.
        let enc = f.encode(ds.columns(), UnknownCategory::Error).unwrap();
        assert!(enc[[1, 0]].is_nan() && enc[[3, 1]].is_nan());
    }

    #[test]
    fn missing_markers_are_configurable_and_targets_must_be_complete() {
        let text = format!("a,y\n{}?,1\nNA,1\n", "1,0\n".repeat(12));
        let text = text.as_str();
        // By default '?' is a bad number in a numeric column.
        assert!(frame(text).unwrap().to_dataset(&LoadOptions::with_target("y")).is_err());
        let f = frame(text).unwrap().with_missing_markers(["?", "NA"]);
        let ds = f.to_dataset(&LoadOptions::with_target("y")).unwrap();
        assert_eq!(ds.missing_counts(), vec![("a".into(), 2)]);
        let gap = format!("a,y\n{},1\n", "1,0\n".repeat(12));
        let none = frame(&gap).unwrap().with_missing_markers(Vec::<String>::new());
        assert!(none.to_dataset(&LoadOptions::with_target("y")).is_err());
        let err = frame("a,y\n1,0\n2,\n")
            .unwrap()
            .to_dataset(&LoadOptions::with_target("y"))
            .unwrap_err();
        assert!(matches!(err, Error::Csv { line: 3, .. }), "{err}");
        let all = frame("a,b,y\n1,,0\n2,NA,1\n").unwrap();
        let err = all.to_dataset(&LoadOptions::with_target("y")).unwrap_err();
        assert!(
            err.to_string().contains("'b'") && err.to_string().contains("--drop"),
            "{err}"
        );
    }

    #[test]
    fn ragged_rows_and_empty_files_are_errors() {
        assert!(matches!(frame("a,b\n1\n"), Err(Error::Csv { line: 2, .. })));
        assert!(matches!(frame("a,b\n"), Err(Error::Empty { .. })));
        assert!(matches!(frame(""), Err(Error::Csv { .. })));
        assert!(matches!(frame("a,a\n1,2\n"), Err(Error::Csv { line: 1, .. })));
        // An empty value is refused where its column is used, with its line.
        let gap = frame("a,b,c\n1,,3\n").unwrap();
        assert!(matches!(gap.numeric_column("b"), Err(Error::Csv { line: 2, .. })));
        let ds = gap.to_dataset(&LoadOptions {
            target: Some("c".into()),
            drop: vec!["b".into()],
            ..LoadOptions::default()
        });
        assert!(ds.is_ok(), "a gap in a dropped column is no error");
        let enc = gap
            .encode(&[InputColumn::numeric("a")], UnknownCategory::Error)
            .unwrap();
        assert_eq!(enc[[0, 0]], 1.0);
    }

    #[test]
    fn unknown_target_is_named() {
        let err = frame("a,b\n1,2\n")
            .unwrap()
            .to_dataset(&LoadOptions::with_target("zz"))
            .unwrap_err();
        assert!(err.to_string().contains("zz"));
    }

    #[test]
    fn regression_target_inferred_from_non_integers() {
        let ds = frame("a,y\n1,0.5\n2,1.5\n")
            .unwrap()
            .to_dataset(&LoadOptions::with_target("y"))
            .unwrap();
        assert_eq!(ds.values().unwrap().to_vec(), vec![0.5, 1.5]);
    }

    #[test]
    fn encode_matches_by_name_and_handles_unknown_categories() {
        let f = frame("y,color,a\n0,green,1\n1,red,2\n").unwrap();
        let inputs = vec![
            InputColumn::numeric("a"),
            InputColumn {
                name: "color".into(),
                kind: FeatureKind::Categorical {
                    categories: vec!["blue".into(), "red".into()],
                },
            },
        ];
        assert!(matches!(
            f.encode(&inputs, UnknownCategory::Error),
            Err(Error::UnseenCategory { .. })
        ));
        let x = f.encode(&inputs, UnknownCategory::Ignore).unwrap();
        assert_eq!(x.row(0).to_vec(), vec![1.0, UNKNOWN_CODE]);
        assert_eq!(x.row(1).to_vec(), vec![2.0, 1.0]);
        let missing = vec![InputColumn::numeric("b")];
        assert!(matches!(
            f.encode(&missing, UnknownCategory::Error),
            Err(Error::MissingColumn { .. })
        ));
    }
}
