//! Rating readers: ml-latest `ratings.csv`, ml-100k `u.data`, ml-1m/10m
//! `ratings.dat`, generic CSV, and given train/test files.
//!
//! All of them stream: one reused record or line buffer, numbers parsed from
//! the bytes, ids interned as they come. Duplicates are found after reading:
//! a file sorted by (user, movie), as MovieLens ships, is proven free of them
//! while streaming; any other order is checked by one sort of the pairs.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::str::FromStr;

use movierec_core::{IdMap, Rating, RatingScale, Ratings};

use crate::fields::{
    open_counted, parse_f32, parse_i64, parse_u64, show, split_into, Counted, Interner, LineIndex,
    Lines, ReadProgress,
};
use crate::{DataError, OnDuplicate, Result};

/// Opens `path`, naming it in the error.
pub(crate) fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| DataError::io(path, e))
}

/// A CSV reader that knows its line numbers.
///
/// The csv crate's record positions are off after blank lines and on CRLF
/// files (the line is taken before the terminator is skipped), and every
/// error must name the right line. So lines are read here, one reused
/// buffer, and split on the delimiter directly; only a line holding a quote
/// goes through the csv crate (joined with the next lines while a quoted
/// field is open). MovieLens ratings never quote, so the hot path is a
/// `memchr` for the newline and one pass over the bytes.
pub(crate) struct CsvReader {
    lines: Lines<BufReader<Counted>>,
    delimiter: u8,
    pending: Vec<u8>,
}

impl CsvReader {
    /// Reads the next non-blank record into `rec`; returns its first line.
    pub(crate) fn read(&mut self, rec: &mut csv::ByteRecord, path: &Path) -> Result<Option<u64>> {
        loop {
            let Some((line, text)) = self.lines.next_line(path)? else {
                return Ok(None);
            };
            if text.is_empty() {
                continue; // a blank line is no record (as in the csv crate)
            }
            rec.clear();
            if !text.contains(&b'"') {
                for field in text.split(|&b| b == self.delimiter) {
                    rec.push_field(field);
                }
                return Ok(Some(line));
            }
            self.pending.clear();
            self.pending.extend_from_slice(text);
            parse_quoted(
                &mut self.lines,
                &mut self.pending,
                self.delimiter,
                line,
                path,
                rec,
            )?;
            return Ok(Some(line));
        }
    }

    /// Calls `f(line, fields)` for every remaining non-blank record. The hot
    /// path: an unquoted line is split in place, nothing is copied.
    pub(crate) fn for_each(
        &mut self,
        path: &Path,
        mut f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
    ) -> Result<()> {
        let mut rec = csv::ByteRecord::new();
        while let Some((line, text)) = self.lines.next_line(path)? {
            if text.is_empty() {
                continue;
            }
            if !text.contains(&b'"') {
                let mut fields: [&[u8]; 16] = [b""; 16];
                let n = split_into(text, &[self.delimiter], &mut fields);
                if n <= fields.len() {
                    f(line, &fields[..n])?;
                } else {
                    let fields: Vec<&[u8]> = text.split(|&b| b == self.delimiter).collect();
                    f(line, &fields)?;
                }
                continue;
            }
            self.pending.clear();
            self.pending.extend_from_slice(text);
            parse_quoted(
                &mut self.lines,
                &mut self.pending,
                self.delimiter,
                line,
                path,
                &mut rec,
            )?;
            let fields: Vec<&[u8]> = rec.iter().collect();
            f(line, &fields)?;
        }
        Ok(())
    }
}

/// Parses the record that starts with `pending` (a line holding a quote),
/// joining further lines while a quoted field is open.
#[cold]
fn parse_quoted(
    lines: &mut Lines<BufReader<Counted>>,
    pending: &mut Vec<u8>,
    delimiter: u8,
    line: u64,
    path: &Path,
    rec: &mut csv::ByteRecord,
) -> Result<()> {
    while pending.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        match lines.next_line(path)? {
            Some((_, more)) => {
                if pending.len() + more.len() >= crate::fields::MAX_LINE_BYTES {
                    return Err(crate::fields::line_too_long(path, line));
                }
                pending.push(b'\n');
                pending.extend_from_slice(more);
            }
            None => return Err(DataError::parse(path, line, "unterminated quoted field")),
        }
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(&pending[..]);
    match rdr.read_byte_record(rec) {
        Ok(_) => Ok(()),
        Err(e) => Err(DataError::parse(path, line, format!("{:?}", e.kind()))),
    }
}

/// A [`CsvReader`] over `path` with a 64 KiB buffer, counting into
/// `progress` when given.
pub(crate) fn csv_reader(
    path: &Path,
    delimiter: u8,
    progress: Option<&ReadProgress>,
) -> Result<CsvReader> {
    Ok(CsvReader {
        lines: Lines::new(open_counted(path, progress)?),
        delimiter,
        pending: Vec::new(),
    })
}

/// Reads the next record; returns its line.
#[inline]
pub(crate) fn next_record(
    rdr: &mut CsvReader,
    rec: &mut csv::ByteRecord,
    path: &Path,
) -> Result<Option<u64>> {
    rdr.read(rec, path)
}

/// The header record as trimmed strings (a UTF-8 byte-order mark is dropped).
pub(crate) fn header_names(rec: &csv::ByteRecord) -> Vec<String> {
    rec.iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            String::from_utf8_lossy(f.trim_ascii()).into_owned()
        })
        .collect()
}

/// Reads the header line of a CSV file and checks it equals `expected`.
pub(crate) fn expect_header(
    rdr: &mut CsvReader,
    rec: &mut csv::ByteRecord,
    path: &Path,
    expected: &[&str],
) -> Result<()> {
    let want = expected.join(",");
    let Some(line) = next_record(rdr, rec, path)? else {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            expected: format!(" (expected header `{want}`)"),
        });
    };
    let names = header_names(rec);
    if names != expected {
        return Err(DataError::parse(
            path,
            line,
            format!(
                "header does not match: expected `{want}`, found `{}`",
                movierec_core::text::shown(&names.join(","), 80)
            ),
        ));
    }
    Ok(())
}

/// The ratings of one file as they are read, before duplicates are handled.
pub(crate) struct Collector<'p> {
    path: &'p Path,
    scale: RatingScale,
    pub(crate) users: Interner,
    pub(crate) items: Interner,
    entries: Vec<Rating>,
    times: Option<Vec<i64>>,
    lines: LineIndex,
    /// True while (raw user, raw movie) strictly increases: no duplicate possible.
    sorted: bool,
    last: (u64, u64),
}

/// What a reader returns: ratings, timestamps and the two id maps.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) ratings: Ratings,
    pub(crate) timestamps: Option<Vec<i64>>,
    pub(crate) users: IdMap,
    pub(crate) items: IdMap,
}

impl<'p> Collector<'p> {
    /// Rows start on line `first_line`; `timestamps` says whether rows carry one.
    pub(crate) fn new(
        path: &'p Path,
        scale: RatingScale,
        first_line: u64,
        timestamps: bool,
    ) -> Self {
        Self {
            path,
            scale,
            users: Interner::default(),
            items: Interner::default(),
            entries: Vec::new(),
            times: timestamps.then(Vec::new),
            lines: LineIndex::new(first_line),
            sorted: true,
            last: (0, 0),
        }
    }

    fn err(&self, line: u64, problem: String) -> DataError {
        DataError::parse(self.path, line, problem)
    }

    /// Parses one row's fields and appends it. `names` label the fields in
    /// errors (e.g. `userId`, `movieId`, `rating`, `timestamp`).
    #[inline]
    pub(crate) fn push_fields(
        &mut self,
        line: u64,
        user: &[u8],
        item: &[u8],
        rating: &[u8],
        time: Option<&[u8]>,
        names: &[&str; 4],
    ) -> Result<()> {
        let Some(u) = parse_u64(user) else {
            return Err(self.malformed(line, names[0], user, "an unsigned integer"));
        };
        let Some(i) = parse_u64(item) else {
            return Err(self.malformed(line, names[1], item, "an unsigned integer"));
        };
        let Some(r) = parse_f32(rating) else {
            return Err(self.malformed(line, names[2], rating, "a number"));
        };
        let t = match time {
            Some(t) => match parse_i64(t) {
                Some(t) => Some(t),
                None => return Err(self.malformed(line, names[3], t, "an integer")),
            },
            None => None,
        };
        self.push(line, u, i, r, t)
    }

    #[cold]
    fn malformed(&self, line: u64, name: &str, field: &[u8], want: &str) -> DataError {
        self.err(
            line,
            format!("malformed {name} `{}`: expected {want}", show(field)),
        )
    }

    /// Appends one rating after checking it lies on the scale.
    #[inline]
    pub(crate) fn push(
        &mut self,
        line: u64,
        user: u64,
        item: u64,
        value: f32,
        time: Option<i64>,
    ) -> Result<()> {
        if !self.scale.contains(value) {
            return Err(self.bad_value(line, value));
        }
        if self.sorted && !self.entries.is_empty() && (user, item) <= self.last {
            self.sorted = false;
        }
        self.last = (user, item);
        let u = self.users.insert(user);
        let i = self.items.insert(item);
        self.lines.push(self.entries.len(), line);
        self.entries.push(Rating::new(u, i, value));
        if let Some(ts) = self.times.as_mut() {
            ts.push(time.unwrap_or(0));
        }
        Ok(())
    }

    #[cold]
    fn bad_value(&self, line: u64, value: f32) -> DataError {
        if value.is_finite() {
            let s = self.scale;
            self.err(
                line,
                format!("rating {value} is outside the scale {}..{}", s.min, s.max),
            )
        } else {
            self.err(line, format!("rating {value} is not finite"))
        }
    }

    /// Reserves room for the rows of a file of `bytes` bytes (MovieLens
    /// rating lines are 20 to 30 bytes; `finish` returns what is unused).
    pub(crate) fn reserve_for(&mut self, path: &Path) {
        let rows = std::fs::metadata(path).map_or(0, |m| m.len() / 20) as usize;
        self.entries.reserve(rows);
        if let Some(ts) = self.times.as_mut() {
            ts.reserve(rows);
        }
    }

    /// Number of rows so far.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Resolves duplicates and builds the result.
    pub(crate) fn finish(mut self, on_duplicate: OnDuplicate) -> Result<Collected> {
        if !self.sorted {
            self.resolve_duplicates(on_duplicate)?;
        }
        self.entries.shrink_to_fit();
        if let Some(ts) = self.times.as_mut() {
            ts.shrink_to_fit();
        }
        let (n_users, n_items) = (self.users.len(), self.items.len());
        Ok(Collected {
            ratings: Ratings::new(self.entries, n_users, n_items, self.scale),
            timestamps: self.times,
            users: self.users.into_map(),
            items: self.items.into_map(),
        })
    }

    fn resolve_duplicates(&mut self, on_duplicate: OnDuplicate) -> Result<()> {
        let key = |r: &Rating| (u64::from(r.user.0) << 32) | u64::from(r.item.0);
        let mut order: Vec<u32> = (0..self.entries.len() as u32).collect();
        order.sort_unstable_by_key(|&p| (key(&self.entries[p as usize]), p));
        let groups = order
            .chunk_by(|&a, &b| key(&self.entries[a as usize]) == key(&self.entries[b as usize]));
        match on_duplicate {
            OnDuplicate::Error => {
                // Report the pair whose second line comes first, as a reader
                // that checked while streaming would.
                let first_dup = groups.filter(|g| g.len() > 1).map(|g| (g[1], g[0])).min();
                if let Some((second, first)) = first_dup {
                    let r = self.entries[second as usize];
                    return Err(DataError::Duplicate {
                        path: self.path.to_path_buf(),
                        line: self.lines.line(second as usize),
                        first_line: self.lines.line(first as usize),
                        user: self.users_raw(r.user.0),
                        item: self.items_raw(r.item.0),
                    });
                }
            }
            OnDuplicate::Latest => {
                let mut drop = vec![false; self.entries.len()];
                let mut any = false;
                for g in groups.filter(|g| g.len() > 1) {
                    // Newest timestamp wins; ties and missing timestamps go to
                    // the later line (the group is in position order).
                    let keep = match &self.times {
                        Some(ts) => *g.iter().max_by_key(|&&p| (ts[p as usize], p)).unwrap(),
                        None => *g.last().unwrap(),
                    };
                    for &p in g.iter().filter(|&&p| p != keep) {
                        drop[p as usize] = true;
                        any = true;
                    }
                }
                if any {
                    let mut k = 0;
                    self.entries.retain(|_| (!drop[k], k += 1).0);
                    if let Some(ts) = self.times.as_mut() {
                        let mut k = 0;
                        ts.retain(|_| (!drop[k], k += 1).0);
                    }
                }
            }
        }
        Ok(())
    }

    fn users_raw(&self, idx: u32) -> u64 {
        self.users.raw_ids()[idx as usize]
    }

    fn items_raw(&self, idx: u32) -> u64 {
        self.items.raw_ids()[idx as usize]
    }
}

/// The ml-latest header of `ratings.csv`.
pub(crate) const ML_LATEST_HEADER: [&str; 4] = ["userId", "movieId", "rating", "timestamp"];

/// Reads an ml-latest `ratings.csv` (`userId,movieId,rating,timestamp`).
pub(crate) fn read_ml_latest(
    path: &Path,
    on_duplicate: OnDuplicate,
    progress: &ReadProgress,
) -> Result<Collected> {
    let mut rdr = csv_reader(path, b',', Some(progress))?;
    let mut rec = csv::ByteRecord::new();
    expect_header(&mut rdr, &mut rec, path, &ML_LATEST_HEADER)?;
    let mut c = Collector::new(path, RatingScale::new(0.5, 5.0), 2, true);
    c.reserve_for(path);
    while let Some(line) = next_record(&mut rdr, &mut rec, path)? {
        if rec.len() != 4 {
            return Err(wrong_count(
                path,
                line,
                rec.len(),
                "userId,movieId,rating,timestamp",
            ));
        }
        c.push_fields(
            line,
            &rec[0],
            &rec[1],
            &rec[2],
            Some(&rec[3]),
            &ML_LATEST_HEADER,
        )?;
    }
    c.finish(on_duplicate)
}

#[cold]
fn too_few(path: &Path, line: u64, need: usize, found: usize) -> DataError {
    DataError::parse(
        path,
        line,
        format!("expected at least {need} fields, found {found}"),
    )
}

#[cold]
fn wrong_count(path: &Path, line: u64, found: usize, expected: &str) -> DataError {
    let n = expected.split(',').count();
    DataError::parse(
        path,
        line,
        format!("expected {n} fields ({expected}), found {found}"),
    )
}

/// Reads a headerless file of `user SEP item SEP rating SEP timestamp` lines:
/// ml-100k `u.data` (tab) and ml-1m/10m `ratings.dat` (`::`).
pub(crate) fn read_separated(
    path: &Path,
    sep: &[u8],
    scale: RatingScale,
    on_duplicate: OnDuplicate,
    progress: &ReadProgress,
) -> Result<Collected> {
    const NAMES: [&str; 4] = ["user id", "movie id", "rating", "timestamp"];
    let sep_name = if sep == b"\t" {
        "tab-separated"
    } else {
        "`::`-separated"
    };
    let mut lines = Lines::new(open_counted(path, Some(progress))?);
    let mut c = Collector::new(path, scale, 1, true);
    c.reserve_for(path);
    let mut seen_any = false;
    while let Some((line, text)) = lines.next_line(path)? {
        let mut f: [&[u8]; 4] = [b""; 4];
        seen_any = true;
        if text.trim_ascii().is_empty() {
            continue; // a blank line is no row (as in CSV)
        }
        let n = split_into(text, sep, &mut f);
        if n != 4 {
            return Err(DataError::parse(
                path,
                line,
                format!("expected 4 {sep_name} fields (user, movie, rating, timestamp), found {n}"),
            ));
        }
        c.push_fields(line, f[0], f[1], f[2], Some(f[3]), &NAMES)?;
    }
    if !seen_any {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            expected: String::new(),
        });
    }
    c.finish(on_duplicate)
}

/// One column of a generic CSV: a header name or a 0-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// The column whose header is this name.
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
}

impl Column {
    fn parse(s: &str) -> Self {
        let s = s.trim();
        s.parse()
            .map_or_else(|_| Column::Name(s.to_owned()), Column::Index)
    }

    fn resolve(&self, header: Option<&[String]>, path: &Path) -> Result<usize> {
        match (self, header) {
            (Column::Index(i), _) => Ok(*i),
            (Column::Name(n), Some(h)) => h.iter().position(|x| x == n).ok_or_else(|| {
                DataError::parse(
                    path,
                    1,
                    format!(
                        "no column `{}` in header `{}`",
                        movierec_core::text::shown(n, 40),
                        movierec_core::text::shown(&h.join(","), 80)
                    ),
                )
            }),
            (Column::Name(n), None) => Err(DataError::Config(format!(
                "column `{n}` is a name but the file has no header: give a 0-based position"
            ))),
        }
    }
}

/// Which columns of a generic CSV hold user, item, rating and (optionally)
/// timestamp. Parsed from `"user,item,rating[,timestamp]"`, each entry a
/// header name or a 0-based position, e.g. `"0,1,2"` or `"uid,iid,stars,ts"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// User id column.
    pub user: Column,
    /// Item id column.
    pub item: Column,
    /// Rating column.
    pub rating: Column,
    /// Timestamp column, if any.
    pub timestamp: Option<Column>,
}

impl Default for Columns {
    /// Positions 0, 1, 2 and 3 (the MovieLens column order).
    fn default() -> Self {
        Self {
            user: Column::Index(0),
            item: Column::Index(1),
            rating: Column::Index(2),
            timestamp: Some(Column::Index(3)),
        }
    }
}

impl FromStr for Columns {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(',').collect();
        if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(DataError::Config(format!(
                "columns `{s}`: expected `user,item,rating[,timestamp]` (names or 0-based positions)"
            )));
        }
        Ok(Self {
            user: Column::parse(parts[0]),
            item: Column::parse(parts[1]),
            rating: Column::parse(parts[2]),
            timestamp: parts.get(3).map(|p| Column::parse(p)),
        })
    }
}

/// How to read a ratings file that is not in a MovieLens layout.
#[derive(Debug, Clone)]
pub struct GenericCsv {
    /// Where user, item, rating and timestamp are.
    pub columns: Columns,
    /// Field separator, e.g. `b','`, `b'\t'` or `b';'`.
    pub delimiter: u8,
    /// Whether the first line is a header (needed for columns given by name).
    pub has_header: bool,
    /// The valid rating range; ratings outside it are an error.
    pub scale: RatingScale,
}

impl Default for GenericCsv {
    /// Comma-separated with a header, columns 0..=3, scale 0.5..5.
    fn default() -> Self {
        Self {
            columns: Columns::default(),
            delimiter: b',',
            has_header: true,
            scale: RatingScale::default(),
        }
    }
}

/// Parses a rating scale written `MIN..MAX` (e.g. `1..5` or `0.5..5`).
///
/// # Errors
/// [`DataError::Config`] when the text is not two finite numbers with `MIN < MAX`.
pub fn parse_scale(s: &str) -> Result<RatingScale> {
    let bad = || DataError::Config(format!("scale `{s}`: expected MIN..MAX, e.g. 0.5..5"));
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let (min, max): (f32, f32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if !(min.is_finite() && max.is_finite() && min < max) {
        return Err(bad());
    }
    Ok(RatingScale::new(min, max))
}

/// Reads a generic CSV ratings file.
pub(crate) fn read_generic(
    path: &Path,
    g: &GenericCsv,
    on_duplicate: OnDuplicate,
    progress: &ReadProgress,
) -> Result<Collected> {
    let mut rdr = csv_reader(path, g.delimiter, Some(progress))?;
    let mut rec = csv::ByteRecord::new();
    let mut header = None;
    if g.has_header {
        if next_record(&mut rdr, &mut rec, path)?.is_none() {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
                expected: " (expected a header)".into(),
            });
        }
        header = Some(header_names(&rec));
    }
    let h = header.as_deref();
    let cols = [
        g.columns.user.resolve(h, path)?,
        g.columns.item.resolve(h, path)?,
        g.columns.rating.resolve(h, path)?,
    ];
    let ts_col = g
        .columns
        .timestamp
        .as_ref()
        .map(|c| c.resolve(h, path))
        .transpose()?;
    let need = cols.iter().chain(ts_col.iter()).max().unwrap() + 1;
    let first = if g.has_header { 2 } else { 1 };
    let mut c = Collector::new(path, g.scale, first, ts_col.is_some());
    c.reserve_for(path);
    const NAMES: [&str; 4] = ["user id", "item id", "rating", "timestamp"];
    rdr.for_each(path, |line, f| {
        if f.len() < need {
            return Err(too_few(path, line, need, f.len()));
        }
        let t = ts_col.map(|i| f[i]);
        c.push_fields(line, f[cols[0]], f[cols[1]], f[cols[2]], t, &NAMES)
    })?;
    if c.len() == 0 && !g.has_header {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            expected: String::new(),
        });
    }
    c.finish(on_duplicate)
}

/// Reads a given train or test file: CSV with a header that holds at least
/// `user,item,rating` (or the ml-latest names `userId,movieId`); further
/// columns are ignored, except `timestamp`, which decides
/// [`OnDuplicate::Latest`]. Raw ids are mapped through `users` and `items`,
/// new ones appended, so a test file shares the train file's index space.
/// Entries keep file order; the result's `n_users`/`n_items` are the maps'
/// sizes after reading.
///
/// # Errors
/// A missing or empty file, a header without the three columns, a
/// malformed row, a rating not finite or outside `scale`, or a duplicate
/// pair (under [`OnDuplicate::Error`]), each naming file and line.
pub fn read_interactions(
    path: &Path,
    users: &mut IdMap,
    items: &mut IdMap,
    scale: RatingScale,
    on_duplicate: OnDuplicate,
) -> Result<Ratings> {
    let mut rdr = csv_reader(path, b',', None)?;
    let mut rec = csv::ByteRecord::new();
    let Some(line) = next_record(&mut rdr, &mut rec, path)? else {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            expected: " (expected a header with `user,item,rating`)".into(),
        });
    };
    let names = header_names(&rec);
    let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
    let (Some(uc), Some(ic), Some(rc)) = (
        find(&["user", "userId"]),
        find(&["item", "movieId", "itemId"]),
        find(&["rating"]),
    ) else {
        return Err(DataError::parse(
            path,
            line,
            format!(
                "header does not match: expected at least `user,item,rating`, found `{}`",
                movierec_core::text::shown(&names.join(","), 80)
            ),
        ));
    };
    let tc = find(&["timestamp"]);
    let need = [uc, ic, rc].into_iter().chain(tc).max().unwrap_or(0) + 1;
    let mut c = Collector::new(path, scale, 2, tc.is_some());
    c.users = Interner::from_map(users);
    c.items = Interner::from_map(items);
    const NAMES: [&str; 4] = ["user", "item", "rating", "timestamp"];
    rdr.for_each(path, |line, f| {
        if f.len() < need {
            return Err(too_few(path, line, need, f.len()));
        }
        let t = tc.map(|i| f[i]);
        c.push_fields(line, f[uc], f[ic], f[rc], t, &NAMES)
    })?;
    let out = c.finish(on_duplicate)?;
    *users = out.users;
    *items = out.items;
    Ok(out.ratings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_reader_counts_lines_across_crlf_blanks_and_quotes() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "x.csv",
            "h\r\n1,\"a\nb, c\",2\r\n\r\n3,\"q\"\"q\",4\n5,x,6",
        );
        let mut rdr = csv_reader(&p, b',', None).unwrap();
        let mut rec = csv::ByteRecord::new();
        let mut got = Vec::new();
        while let Some(line) = next_record(&mut rdr, &mut rec, &p).unwrap() {
            got.push((
                line,
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>(),
            ));
        }
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                (1, v(&["h"])),
                (2, v(&["1", "a\nb, c", "2"])),
                (5, v(&["3", "q\"q", "4"])),
                (6, v(&["5", "x", "6"]))
            ]
        );
        let p = write(d.path(), "y.csv", "h\n1,\"open\n");
        let mut rdr = csv_reader(&p, b',', None).unwrap();
        next_record(&mut rdr, &mut rec, &p).unwrap();
        let e = next_record(&mut rdr, &mut rec, &p).unwrap_err().to_string();
        assert!(e.ends_with("y.csv:2: unterminated quoted field"), "{e}");
    }

    #[test]
    fn columns_parse() {
        let c: Columns = "0,1,2".parse().unwrap();
        assert_eq!(c.rating, Column::Index(2));
        assert_eq!(c.timestamp, None);
        let c: Columns = "uid,iid,r,3".parse().unwrap();
        assert_eq!(c.user, Column::Name("uid".into()));
        assert_eq!(c.timestamp, Some(Column::Index(3)));
        assert!("a,b".parse::<Columns>().is_err());
        assert!("a,,c".parse::<Columns>().is_err());
    }

    #[test]
    fn scale_parse() {
        assert_eq!(parse_scale("1..5").unwrap(), RatingScale::new(1.0, 5.0));
        assert_eq!(parse_scale("0.5..5").unwrap(), RatingScale::new(0.5, 5.0));
        assert!(parse_scale("5..1").is_err());
        assert!(parse_scale("1-5").is_err());
    }

    #[test]
    fn latest_keeps_newest_timestamp_then_later_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "ratings.csv",
            "userId,movieId,rating,timestamp\n1,10,1.0,300\n2,10,2.0,5\n1,10,3.0,200\n2,10,4.0,5\n",
        );
        let c = read_ml_latest(&p, OnDuplicate::Latest, &ReadProgress::default()).unwrap();
        let values: Vec<f32> = c.ratings.entries.iter().map(|r| r.value).collect();
        assert_eq!(values, [1.0, 4.0]);
        assert_eq!(c.timestamps.unwrap(), [300, 5]);
        let e = read_ml_latest(&p, OnDuplicate::Error, &ReadProgress::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ratings.csv:4: duplicate rating for user 1, movie 10 (lines 2 and 4"),
            "{e}"
        );
    }

    #[test]
    fn interactions_extend_maps_and_keep_order() {
        let d = tempfile::tempdir().unwrap();
        let train = write(
            d.path(),
            "train.csv",
            "user,item,rating,extra\n5,50,4,x\n6,60,3.5,y\n",
        );
        let test = write(d.path(), "test.csv", "item,rating,user\n70,2,6\n50,1,7\n");
        let (mut users, mut items) = (IdMap::new(), IdMap::new());
        let s = RatingScale::new(0.5, 5.0);
        let tr = read_interactions(&train, &mut users, &mut items, s, OnDuplicate::Error).unwrap();
        assert_eq!((tr.n_users, tr.n_items, tr.len()), (2, 2, 2));
        let te = read_interactions(&test, &mut users, &mut items, s, OnDuplicate::Error).unwrap();
        assert_eq!((te.n_users, te.n_items), (3, 3));
        assert_eq!(te.entries, [Rating::new(1, 2, 2.0), Rating::new(2, 0, 1.0)]);
        assert_eq!(users.raw_ids(), [5, 6, 7]);
        let bad = write(d.path(), "bad.csv", "u,i,r\n1,2,3\n");
        let e = read_interactions(&bad, &mut users, &mut items, s, OnDuplicate::Error);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("bad.csv:1: header does not match"));
    }
}
