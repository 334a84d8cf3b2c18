//! Business hours: when a tenant's entry flow is open. A weekly schedule of wall-clock
//! intervals in a time zone, and exceptions for particular dates (holidays, short days).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, ValidationError, join};
use crate::parse::Validate;
use crate::resource::Resource;
use crate::time::{Interval, Weekly, check_date, check_day, key_path, unique_map};

/// When a tenant is open.
///
/// Times are wall-clock times in `time_zone` (the tenant's when `None`), intervals are
/// `[start, end)` and `end` may be `"24:00"`; a weekday left out is closed. An entry in
/// `exceptions` replaces the weekly schedule on that date: `open` lists the hours of that
/// day, and an empty or absent `open` means closed all day.
///
/// ```json
/// {"name": "Office", "time_zone": "Europe/Moscow",
///  "schedule": {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
///               "saturday": [{"start": "10:00", "end": "14:00"}]},
///  "exceptions": {"2026-01-01": {"name": "New Year"},
///                 "2026-12-31": {"open": [{"start": "09:00", "end": "15:00"}]}}}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// Display name.
    pub name: String,
    /// IANA time zone of the times below; `None`: the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Open intervals per weekday.
    #[serde(default)]
    pub schedule: Weekly<Interval>,
    /// Dates (`"YYYY-MM-DD"`) whose hours differ from the weekly schedule.
    #[serde(
        default,
        deserialize_with = "unique_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schemars(with = "BTreeMap<String, DayException>"))]
    pub exceptions: BTreeMap<String, DayException>,
}

/// The hours of one date that differs from the weekly schedule.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayException {
    /// Why ("New Year"); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Open intervals on that date; empty: closed all day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<Interval>,
}

impl BusinessHours {
    /// Resource kind.
    pub const KIND: &'static str = "business-hours";
    /// Most exception dates one schedule may have.
    pub const MAX_EXCEPTIONS: usize = 1000;

    /// Open around the clock, every day.
    pub fn always_open(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            time_zone: None,
            schedule: Weekly::every_day(vec![Interval::ALL_DAY]),
            exceptions: BTreeMap::new(),
        }
    }
}

impl Validate for BusinessHours {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        if let Some(tz) = &self.time_zone {
            check::time_zone(&mut e, "time_zone", tz);
        }
        for (day, intervals) in self.schedule.iter() {
            check_day(&mut e, &join("schedule", day.as_str()), intervals);
        }
        check::count(
            &mut e,
            "exceptions",
            self.exceptions.len(),
            Self::MAX_EXCEPTIONS,
        );
        for (date, ex) in &self.exceptions {
            let at = key_path("exceptions", date);
            check_date(&mut e, &at, date);
            if let Some(n) = &ex.name {
                check::name(&mut e, &join(&at, "name"), n);
            }
            check_day(&mut e, &join(&at, "open"), &ex.open);
        }
        e.finish()
    }

    fn normalize(&mut self) {
        if let Some(tz) = self
            .time_zone
            .as_deref()
            .and_then(check::canonical_time_zone)
        {
            self.time_zone = Some(tz);
        }
    }
}

impl Resource for BusinessHours {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::test_util::{fields_rules, round_trip};
    use crate::time::{TimeOfDay, Weekday};

    #[test]
    fn a_full_schedule_parses_and_round_trips() {
        let h: BusinessHours = parse(
            br#"{"name": "Office", "time_zone": "Europe/Moscow",
                 "schedule": {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "14:00", "end": "18:00"}],
                              "saturday": [{"start": "10:00", "end": "24:00"}]},
                 "exceptions": {"2026-01-01": {"name": "New Year"},
                                "2026-12-31": {"open": [{"start": "09:00", "end": "15:00"}]}}}"#,
        )
        .unwrap();
        assert_eq!(h.schedule.day(Weekday::Monday).len(), 2);
        assert_eq!(
            h.schedule.day(Weekday::Saturday)[0].end,
            TimeOfDay::END_OF_DAY
        );
        assert!(h.schedule.day(Weekday::Sunday).is_empty());
        assert!(h.exceptions["2026-01-01"].open.is_empty());
        round_trip(&h);
        let always = BusinessHours::always_open("24/7");
        assert!(always.validate().is_ok());
        round_trip(&always);
    }

    #[test]
    fn every_schedule_rule_is_reported_with_its_path() {
        let errs = parse::<BusinessHours>(
            br#"{"name": "Office", "time_zone": "Europe/Atlantis",
                 "schedule": {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "18:00"}],
                              "tuesday": [{"start": "18:00", "end": "09:00"}]},
                 "exceptions": {"2026-02-30": {}, "2026-1-1": {},
                                "2026-03-09": {"open": [{"start": "10:00", "end": "09:00"}]}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("time_zone", "timezone"),
                ("schedule.monday[1].start", "overlap"),
                ("schedule.tuesday[0].end", "order"),
                ("exceptions.2026-02-30", "date"),
                ("exceptions.2026-03-09.open[0].end", "order"),
                ("exceptions.2026-1-1", "format"),
            ]
        );
    }

    #[test]
    fn a_bad_time_names_its_field() {
        let errs = parse::<BusinessHours>(
            br#"{"name": "Office", "schedule": {"monday": [{"start": "9:00", "end": "18:00"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("schedule.monday[0].start", "format")]
        );
        let errs = parse::<BusinessHours>(
            br#"{"name": "Office", "schedule": {"monday": [{"start": "09:00", "end": "24:30"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("schedule.monday[0].end", "format")]);
        let errs =
            parse::<BusinessHours>(br#"{"name": "Office", "schedule": {"mon": []}}"#).unwrap_err();
        assert_eq!(fields_rules(&errs), [("schedule.mon", "unknown_field")]);
    }

    #[test]
    fn a_date_given_twice_is_refused_not_overwritten() {
        let errs = parse::<BusinessHours>(
            br#"{"name": "Office", "exceptions": {"2026-01-01": {}, "2026-01-01": {"open": [{"start": "09:00", "end": "10:00"}]}}}"#,
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].rule, "duplicate");
        assert!(errs[0].field.starts_with("exceptions"), "{}", errs[0].field);
    }
}
