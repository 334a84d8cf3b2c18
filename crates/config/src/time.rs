//! Times of day, intervals and weekly schedules, as the business-hours, agent-shift and
//! holiday settings write them: `"HH:MM"` wall-clock times in a time zone the owning
//! resource names, half-open intervals `[start, end)` where `end` may be `"24:00"`, and
//! one list of intervals per weekday. Also calendar dates (`"YYYY-MM-DD"`) and JSON maps
//! that refuse duplicate keys.
//!
//! Only the shape and the rules live here; what time it is now, and whether a tenant is
//! open, is for the hours logic that takes `now` as input.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::check;
use crate::error::{Errors, join, rule};

/// A wall-clock time of day with minute precision, from `00:00` to `24:00` inclusive
/// (`24:00` only makes sense as the end of an interval). JSON: `"HH:MM"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// `00:00`.
    pub const MIDNIGHT: Self = Self(0);
    /// `24:00`, the end of the day.
    pub const END_OF_DAY: Self = Self(24 * 60);

    /// `hour:minute`, or `None` unless it is `00:00`..=`23:59` or exactly `24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        match (hour, minute) {
            (0..=23, 0..=59) => Some(Self(u16::from(hour) * 60 + u16::from(minute))),
            (24, 0) => Some(Self::END_OF_DAY),
            _ => None,
        }
    }

    /// Minutes since midnight, `0..=1440`.
    pub fn minutes(self) -> u16 {
        self.0
    }

    /// The hour, `0..=24`.
    pub fn hour(self) -> u8 {
        // At most 24: the constructor bounds the value.
        u8::try_from(self.0 / 60).unwrap_or(24)
    }

    /// The minute, `0..=59`.
    pub fn minute(self) -> u8 {
        u8::try_from(self.0 % 60).unwrap_or(0)
    }

    /// Parses `"HH:MM"` (two digits each).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return None;
        }
        let two = |x: u8, y: u8| {
            (x.is_ascii_digit() && y.is_ascii_digit()).then(|| (x - b'0') * 10 + (y - b'0'))
        };
        Self::new(two(b[0], b[1])?, two(b[3], b[4])?)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl fmt::Debug for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeOfDay({self})")
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeOfDay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time of day \"HH:MM\" from \"00:00\" to \"24:00\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TimeOfDay, E> {
                TimeOfDay::parse(s).ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A half-open interval `[start, end)` of one day. JSON: `{"start": "09:00", "end": "18:00"}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// First minute inside.
    pub start: TimeOfDay,
    /// First minute outside; `24:00` for "until midnight".
    pub end: TimeOfDay,
}

impl Interval {
    /// `[start, end)`.
    pub fn new(start: TimeOfDay, end: TimeOfDay) -> Self {
        Self { start, end }
    }

    /// The whole day, `00:00`–`24:00`.
    pub const ALL_DAY: Self = Self {
        start: TimeOfDay::MIDNIGHT,
        end: TimeOfDay::END_OF_DAY,
    };

    /// Whether `t` lies inside.
    pub fn contains(&self, t: TimeOfDay) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether `other` lies wholly inside this interval.
    pub fn covers(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Most intervals (or shifts) one day may list.
pub const MAX_INTERVALS_PER_DAY: usize = 48;

/// Checks the intervals of one day at `field` (e.g. `schedule.monday`): each ends after
/// it starts, and no two overlap (touching, `[09:00,12:00)` then `[12:00,18:00)`, is fine).
pub(crate) fn check_day(e: &mut Errors, field: &str, intervals: &[Interval]) {
    check::count(e, field, intervals.len(), MAX_INTERVALS_PER_DAY);
    let mut valid: Vec<(usize, &Interval)> = Vec::with_capacity(intervals.len());
    for (i, iv) in intervals.iter().enumerate() {
        if iv.start < iv.end {
            valid.push((i, iv));
        } else {
            e.add(
                format!("{field}[{i}].end"),
                rule::ORDER,
                format!("interval must end after it starts ({iv})"),
            );
        }
    }
    valid.sort_by_key(|(_, iv)| (iv.start, iv.end));
    for pair in valid.windows(2) {
        let [(i, a), (j, b)] = pair else { continue };
        if b.start < a.end {
            e.add(
                format!("{field}[{j}].start"),
                rule::OVERLAP,
                format!("{b} overlaps {a} at {field}[{i}]"),
            );
        }
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Self::Monday,
        Self::Tuesday,
        Self::Wednesday,
        Self::Thursday,
        Self::Friday,
        Self::Saturday,
        Self::Sunday,
    ];

    /// The JSON field name: `monday` … `sunday`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monday => "monday",
            Self::Tuesday => "tuesday",
            Self::Wednesday => "wednesday",
            Self::Thursday => "thursday",
            Self::Friday => "friday",
            Self::Saturday => "saturday",
            Self::Sunday => "sunday",
        }
    }
}

/// One list per weekday. JSON: `{"monday": [...], ..., "sunday": [...]}`; a day left
/// out is an empty list (closed, or no shift).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Weekly{T}"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>")
)]
pub struct Weekly<T> {
    /// Monday.
    #[serde(default)]
    pub monday: Vec<T>,
    /// Tuesday.
    #[serde(default)]
    pub tuesday: Vec<T>,
    /// Wednesday.
    #[serde(default)]
    pub wednesday: Vec<T>,
    /// Thursday.
    #[serde(default)]
    pub thursday: Vec<T>,
    /// Friday.
    #[serde(default)]
    pub friday: Vec<T>,
    /// Saturday.
    #[serde(default)]
    pub saturday: Vec<T>,
    /// Sunday.
    #[serde(default)]
    pub sunday: Vec<T>,
}

impl<T> Default for Weekly<T> {
    fn default() -> Self {
        Self {
            monday: Vec::new(),
            tuesday: Vec::new(),
            wednesday: Vec::new(),
            thursday: Vec::new(),
            friday: Vec::new(),
            saturday: Vec::new(),
            sunday: Vec::new(),
        }
    }
}

impl<T: Clone> Weekly<T> {
    /// The same list on every day.
    pub fn every_day(items: Vec<T>) -> Self {
        Self {
            monday: items.clone(),
            tuesday: items.clone(),
            wednesday: items.clone(),
            thursday: items.clone(),
            friday: items.clone(),
            saturday: items.clone(),
            sunday: items,
        }
    }
}

impl<T> Weekly<T> {
    /// The list of one day.
    pub fn day(&self, d: Weekday) -> &[T] {
        match d {
            Weekday::Monday => &self.monday,
            Weekday::Tuesday => &self.tuesday,
            Weekday::Wednesday => &self.wednesday,
            Weekday::Thursday => &self.thursday,
            Weekday::Friday => &self.friday,
            Weekday::Saturday => &self.saturday,
            Weekday::Sunday => &self.sunday,
        }
    }

    /// The list of one day, to change it.
    pub fn day_mut(&mut self, d: Weekday) -> &mut Vec<T> {
        match d {
            Weekday::Monday => &mut self.monday,
            Weekday::Tuesday => &mut self.tuesday,
            Weekday::Wednesday => &mut self.wednesday,
            Weekday::Thursday => &mut self.thursday,
            Weekday::Friday => &mut self.friday,
            Weekday::Saturday => &mut self.saturday,
            Weekday::Sunday => &mut self.sunday,
        }
    }

    /// Monday to Sunday with their lists.
    pub fn iter(&self) -> impl Iterator<Item = (Weekday, &[T])> {
        Weekday::ALL.into_iter().map(|d| (d, self.day(d)))
    }
}

/// Parses a calendar date `"YYYY-MM-DD"` that exists (so not `2025-02-29`).
pub fn parse_date(s: &str) -> Option<jiff::civil::Date> {
    let (y, m, d) = date_parts(s)?;
    jiff::civil::Date::new(y, m, d).ok()
}

/// The numbers of a `"YYYY-MM-DD"` string, whether or not the date exists.
fn date_parts(s: &str) -> Option<(i16, i8, i8)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i16> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let y = num(0..4)?;
    let m = i8::try_from(num(5..7)?).ok()?;
    let d = i8::try_from(num(8..10)?).ok()?;
    Some((y, m, d))
}

/// Checks a date key at `field`: the shape, then that the day exists.
pub(crate) fn check_date(e: &mut Errors, field: &str, s: &str) {
    if date_parts(s).is_none() {
        e.add(
            field,
            rule::FORMAT,
            format!("{:?} is not a date \"YYYY-MM-DD\"", check::truncate(s)),
        );
    } else if parse_date(s).is_none() {
        e.add(
            field,
            rule::DATE,
            format!("{s} is not a day of the calendar"),
        );
    }
}

/// Path of a map entry: `exceptions.2026-01-01`.
pub(crate) fn key_path(field: &str, key: &str) -> String {
    join(field, key)
}

/// `deserialize_with` for JSON objects read into a `BTreeMap<String, V>`: serde_json
/// would let a repeated key silently overwrite the first; this refuses it.
pub(crate) fn unique_map<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct M<V>(PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for M<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(de::Error::custom(format_args!(
                        "duplicate key `{}`",
                        check::truncate(&key)
                    )));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(M(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(t(a), t(b))
    }

    fn day_rules(ivs: &[Interval]) -> Vec<(String, String)> {
        let mut e = Errors::default();
        check_day(&mut e, "schedule.monday", ivs);
        e.finish()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.rule))
            .collect()
    }

    #[test]
    fn times_of_day() {
        assert_eq!(t("00:00"), TimeOfDay::MIDNIGHT);
        assert_eq!(t("24:00"), TimeOfDay::END_OF_DAY);
        assert_eq!(t("09:30").minutes(), 570);
        assert_eq!(t("23:59").to_string(), "23:59");
        for bad in [
            "24:01", "25:00", "9:30", "09:60", "0930", "09:3a", "", "+9:30", "09:30:00",
        ] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_string(&t("07:05")).unwrap(), "\"07:05\"");
        assert!(serde_json::from_str::<TimeOfDay>("\"7:05\"").is_err());
        assert!(serde_json::from_str::<TimeOfDay>("705").is_err());
    }

    #[test]
    fn intervals_must_end_after_they_start() {
        assert!(day_rules(&[iv("09:00", "18:00")]).is_empty());
        assert!(day_rules(&[iv("00:00", "24:00")]).is_empty());
        assert_eq!(
            day_rules(&[iv("18:00", "09:00")]),
            [("schedule.monday[0].end".to_owned(), "order".to_owned())]
        );
        assert_eq!(
            day_rules(&[iv("09:00", "09:00")]),
            [("schedule.monday[0].end".to_owned(), "order".to_owned())]
        );
        assert_eq!(day_rules(&[iv("24:00", "24:00")]).len(), 1);
    }

    #[test]
    fn intervals_must_not_overlap_but_may_touch() {
        assert!(day_rules(&[iv("13:00", "18:00"), iv("09:00", "13:00")]).is_empty());
        assert_eq!(
            day_rules(&[iv("09:00", "13:00"), iv("08:00", "10:00")]),
            [("schedule.monday[0].start".to_owned(), "overlap".to_owned())]
        );
        assert_eq!(
            day_rules(&[iv("09:00", "18:00"), iv("10:00", "11:00")]),
            [("schedule.monday[1].start".to_owned(), "overlap".to_owned())]
        );
        assert_eq!(
            day_rules(&[iv("09:00", "10:00"); MAX_INTERVALS_PER_DAY + 1])[0].1,
            "length"
        );
    }

    #[test]
    fn dates_are_real() {
        let rules = |s: &str| {
            let mut e = Errors::default();
            check_date(&mut e, "d", s);
            e.finish().err().map(|v| v[0].rule.clone())
        };
        assert_eq!(rules("2026-01-01"), None);
        assert_eq!(rules("2028-02-29"), None);
        assert_eq!(rules("2026-02-29").as_deref(), Some("date"));
        assert_eq!(rules("2026-13-01").as_deref(), Some("date"));
        assert_eq!(rules("2026-04-31").as_deref(), Some("date"));
        assert_eq!(rules("2026-00-10").as_deref(), Some("date"));
        assert_eq!(rules("2026-1-01").as_deref(), Some("format"));
        assert_eq!(rules("26-01-01xx").as_deref(), Some("format"));
        assert_eq!(rules("2026/01/01").as_deref(), Some("format"));
        assert_eq!(rules("+026-01-01").as_deref(), Some("format"));
        assert_eq!(parse_date("2026-03-08").map(|d| d.day()), Some(8));
    }

    #[test]
    fn weekly_lists_default_to_empty_and_refuse_unknown_days() {
        let w: Weekly<Interval> =
            serde_json::from_str(r#"{"friday": [{"start": "09:00", "end": "17:00"}]}"#).unwrap();
        assert_eq!(w.day(Weekday::Friday), [iv("09:00", "17:00")]);
        assert!(w.day(Weekday::Monday).is_empty());
        assert!(serde_json::from_str::<Weekly<Interval>>(r#"{"funday": []}"#).is_err());
        assert_eq!(w.iter().count(), 7);
        for d in Weekday::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
        }
    }
}
