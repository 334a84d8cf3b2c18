//! IVR menus: a prompt, then a digit from the caller chooses what happens. Menus lead to
//! submenus, so the menus of a tenant form a graph; [`validate_ivr_graph`] checks it as a
//! whole (no dangling references, no silent loops), [`IvrMenu::validate`] one menu alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::check;
use crate::entry_flow::Voicemail;
use crate::error::{Errors, ValidationError, join, rule};
use crate::number::normalize_number;
use crate::parse::Validate;
use crate::resource::{Reference, Resource};

/// One IVR menu.
///
/// The menu plays `prompt` and waits up to `timeout_seconds` for a digit. A digit with a
/// choice runs its action; any other digit plays `invalid_prompt` and the menu again. After
/// `max_invalid` invalid digits or silences in a row, `fallback` runs.
///
/// ```json
/// {"name": "Main", "prompt": "main-menu", "timeout_seconds": 5,
///  "inter_digit_timeout_seconds": 3, "max_invalid": 3, "invalid_prompt": "try-again",
///  "choices": [{"digit": "1", "action": {"type": "queue", "id": "sales"}},
///              {"digit": "2", "action": {"type": "submenu", "id": "support"}},
///              {"digit": "0", "action": {"type": "operator"}},
///              {"digit": "*", "action": {"type": "repeat"}}],
///  "fallback": {"type": "queue", "id": "sales"}}
/// ```
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    /// Display name.
    pub name: String,
    /// Prompt id played when the menu starts; `None`: silent (the caller must know what
    /// to press).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Seconds to wait for the first digit after the prompt (default 5, 1–60).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Seconds to wait between digits of a longer entry (default 3, 1–30).
    #[serde(default = "default_inter_digit")]
    pub inter_digit_timeout_seconds: u32,
    /// Invalid digits or timeouts in a row before `fallback` (default 3, 0–10; 0: the
    /// first one falls back).
    #[serde(default = "default_max_invalid")]
    pub max_invalid: u32,
    /// Prompt id played after an invalid digit; `None`: the system one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_prompt: Option<String>,
    /// What each digit does; at most one choice per digit.
    #[serde(default)]
    pub choices: Vec<IvrChoice>,
    /// What happens after `max_invalid` (default: hang up). Cannot be `repeat`.
    #[serde(default = "default_fallback")]
    pub fallback: IvrAction,
}

fn default_timeout() -> u32 {
    5
}
fn default_inter_digit() -> u32 {
    3
}
fn default_max_invalid() -> u32 {
    3
}
fn default_fallback() -> IvrAction {
    IvrAction::Hangup {}
}

/// A digit and its action. JSON: `{"digit": "1", "action": {"type": "queue", "id": "sales"}}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IvrChoice {
    /// One of `0`–`9`, `*`, `#`.
    pub digit: String,
    /// What pressing it does.
    pub action: IvrAction,
}

/// What a menu choice (or a menu's fallback) does. JSON by `type`:
/// `{"type": "queue", "id": "sales"}`, `{"type": "submenu", "id": "billing"}`,
/// `{"type": "voicemail", "email": "…", "max_seconds": 120}`,
/// `{"type": "callback", "queue": "support"}`, `{"type": "repeat"}`,
/// `{"type": "operator"}`, `{"type": "transfer", "number": "+74951234567"}`,
/// `{"type": "hangup"}`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum IvrAction {
    /// Put the call in a queue.
    Queue {
        /// Queue id.
        id: String,
    },
    /// Go to another menu.
    Submenu {
        /// IVR menu id.
        id: String,
    },
    /// Take a voicemail.
    Voicemail(Voicemail),
    /// Take the caller's number for a callback by a queue's agents.
    Callback {
        /// Queue id.
        queue: String,
    },
    /// Play this menu again.
    Repeat {},
    /// Connect to the tenant's operator (a person, not a menu); which queue serves it is
    /// ingress's decision, not part of the menu.
    Operator {},
    /// Transfer to an outside number (E.164; written forms are normalised on parse).
    Transfer {
        /// The number.
        number: String,
    },
    /// Hang up.
    Hangup {},
}

impl IvrMenu {
    /// Resource kind.
    pub const KIND: &'static str = "ivr-menu";
    /// The keys of a phone keypad.
    pub const DIGITS: [&'static str; 12] =
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"];

    /// The submenus this menu leads to, with the field that names each.
    fn submenus(&self) -> impl Iterator<Item = (String, &str)> {
        self.actions().filter_map(|(at, a)| match a {
            IvrAction::Submenu { id } => Some((join(&at, "id"), id.as_str())),
            _ => None,
        })
    }

    /// Every action with its field path: the choices, then the fallback.
    fn actions(&self) -> impl Iterator<Item = (String, &IvrAction)> {
        self.choices
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("choices[{i}].action"), &c.action))
            .chain(std::iter::once(("fallback".to_owned(), &self.fallback)))
    }
}

impl IvrAction {
    fn check(&self, e: &mut Errors, at: &str) {
        match self {
            Self::Queue { id } => check::id(e, &join(at, "id"), "queue id", id),
            Self::Submenu { id } => check::id(e, &join(at, "id"), "ivr menu id", id),
            Self::Voicemail(v) => v.check(e, at),
            Self::Callback { queue } => check::id(e, &join(at, "queue"), "queue id", queue),
            Self::Transfer { number } => check::e164(e, &join(at, "number"), number),
            Self::Repeat {} | Self::Operator {} | Self::Hangup {} => {}
        }
    }

    fn normalize(&mut self) {
        if let Self::Transfer { number } = self
            && let Ok(n) = normalize_number(number)
        {
            *number = n;
        }
    }

    /// The queue this action sends the call to, if any, and the field naming it.
    fn queue(&self) -> Option<(&'static str, &str)> {
        match self {
            Self::Queue { id } => Some(("id", id)),
            Self::Callback { queue } => Some(("queue", queue)),
            _ => None,
        }
    }
}

impl Validate for IvrMenu {
    fn validate(&self) -> Result<(), Vec<ValidationError>> {
        let mut e = Errors::default();
        check::name(&mut e, "name", &self.name);
        if let Some(p) = &self.prompt {
            check::id(&mut e, "prompt", "prompt id", p);
        }
        check::range(
            &mut e,
            "timeout_seconds",
            self.timeout_seconds,
            1,
            60,
            "seconds",
        );
        check::range(
            &mut e,
            "inter_digit_timeout_seconds",
            self.inter_digit_timeout_seconds,
            1,
            30,
            "seconds",
        );
        check::range(&mut e, "max_invalid", self.max_invalid, 0, 10, "");
        if let Some(p) = &self.invalid_prompt {
            check::id(&mut e, "invalid_prompt", "prompt id", p);
        }
        check::count(&mut e, "choices", self.choices.len(), Self::DIGITS.len());
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, c) in self.choices.iter().enumerate() {
            let at = format!("choices[{i}]");
            if !Self::DIGITS.contains(&c.digit.as_str()) {
                e.add(
                    join(&at, "digit"),
                    rule::FORMAT,
                    format!(
                        "{:?} is not a key: use one of 0-9, * and #",
                        check::truncate(&c.digit)
                    ),
                );
            } else if let Some(first) = seen.insert(&c.digit, i) {
                e.add(
                    join(&at, "digit"),
                    rule::DUPLICATE,
                    format!("digit {} is already used by choices[{first}]", c.digit),
                );
            }
            c.action.check(&mut e, &join(&at, "action"));
        }
        if matches!(self.fallback, IvrAction::Repeat {}) {
            e.add(
                "fallback",
                rule::NOT_ALLOWED,
                "fallback cannot be repeat: the caller would never leave the menu",
            );
        }
        self.fallback.check(&mut e, "fallback");
        e.finish()
    }

    fn normalize(&mut self) {
        for c in &mut self.choices {
            c.action.normalize();
        }
        self.fallback.normalize();
    }
}

impl Resource for IvrMenu {
    const KIND: &'static str = Self::KIND;
    fn name(&self) -> &str {
        &self.name
    }
    fn references(&self) -> Vec<Reference> {
        let mut r = Vec::new();
        if let Some(p) = &self.prompt {
            r.push(Reference::new("prompt", crate::Prompt::KIND, p));
        }
        if let Some(p) = &self.invalid_prompt {
            r.push(Reference::new("invalid_prompt", crate::Prompt::KIND, p));
        }
        for (at, a) in self.actions() {
            match a {
                IvrAction::Queue { id } => {
                    r.push(Reference::new(join(&at, "id"), crate::Queue::KIND, id));
                }
                IvrAction::Submenu { id } => {
                    r.push(Reference::new(join(&at, "id"), Self::KIND, id));
                }
                IvrAction::Callback { queue } => {
                    r.push(Reference::new(
                        join(&at, "queue"),
                        crate::Queue::KIND,
                        queue,
                    ));
                }
                _ => {}
            }
        }
        r
    }
}

/// Checks the menus of one tenant together, keyed by menu id: every submenu and every
/// queue a choice or fallback names exists, and no loop of submenus is silent.
///
/// A loop of submenus is allowed when some menu on it plays a prompt (press 9 to go
/// back: the caller hears the menu again each time round); a loop in which no menu has
/// a prompt would keep a caller in silence, and is a `cycle` error, reported once per
/// loop at the choice that closes it.
///
/// Fields are paths into the map: `main.choices[2].action.id`. Each menu's own rules
/// are [`IvrMenu::validate`]'s, not repeated here.
pub fn validate_ivr_graph(
    menus: &BTreeMap<String, IvrMenu>,
    known_queues: &BTreeSet<String>,
) -> Result<(), Vec<ValidationError>> {
    let mut e = Errors::default();
    for (id, menu) in menus {
        for (at, action) in menu.actions() {
            match action {
                IvrAction::Submenu { id: sub } if !menus.contains_key(sub) => e.add(
                    join(id, &join(&at, "id")),
                    rule::UNKNOWN_REFERENCE,
                    format!("menu {id:?} leads to submenu {sub:?}, which does not exist"),
                ),
                _ => {}
            }
            if let Some((field, q)) = action.queue()
                && !known_queues.contains(q)
            {
                e.add(
                    join(id, &join(&at, field)),
                    rule::UNKNOWN_REFERENCE,
                    format!("menu {id:?} sends calls to queue {q:?}, which does not exist"),
                );
            }
        }
    }
    silent_cycles(menus, &mut e);
    e.finish()
}

/// Finds loops among menus without a prompt: a depth-first search over only those menus
/// (a loop through a menu with a prompt is fine), iterative so that a long chain of
/// menus cannot overflow the stack. Each back edge closes one loop.
fn silent_cycles(menus: &BTreeMap<String, IvrMenu>, e: &mut Errors) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark: BTreeMap<&str, Mark> = menus
        .iter()
        .filter(|(_, m)| m.prompt.is_none())
        .map(|(id, _)| (id.as_str(), Mark::New))
        .collect();
    let roots: Vec<&str> = mark.keys().copied().collect();
    for root in roots {
        if mark.get(root) != Some(&Mark::New) {
            continue;
        }
        // The path from `root`: each menu with the edges not yet followed.
        let mut path = vec![(root, silent_edges(menus, root).into_iter())];
        mark.insert(root, Mark::OnPath);
        while let Some((from, edges)) = path.last_mut() {
            let from = *from;
            let Some((field, to)) = edges.next() else {
                mark.insert(from, Mark::Done);
                path.pop();
                continue;
            };
            match mark.get(to) {
                Some(Mark::New) => {
                    mark.insert(to, Mark::OnPath);
                    path.push((to, silent_edges(menus, to).into_iter()));
                }
                Some(Mark::OnPath) => {
                    let start = path.iter().position(|(m, _)| *m == to).unwrap_or(0);
                    let ring: Vec<&str> = path[start..].iter().map(|(m, _)| *m).collect();
                    e.add(
                        join(from, &field),
                        rule::CYCLE,
                        format!(
                            "menus {} form a loop in which no menu plays a prompt",
                            describe_loop(&ring)
                        ),
                    );
                }
                Some(Mark::Done) | None => {}
            }
        }
    }
}

/// `a -> b -> c -> a`; a long loop is cut in the middle, so the message stays short.
pub(crate) fn describe_loop(ring: &[&str]) -> String {
    const SHOW: usize = 8;
    let first = ring.first().copied().unwrap_or_default();
    if ring.len() <= SHOW {
        let mut names = ring.to_vec();
        names.push(first);
        names.join(" -> ")
    } else {
        let head = ring[..SHOW / 2].join(" -> ");
        let tail = ring[ring.len() - SHOW / 2..].join(" -> ");
        format!("{head} -> … -> {tail} -> {first} ({} in all)", ring.len())
    }
}

/// The submenus of menu `id` that exist and play no prompt, with the field naming each.
fn silent_edges<'a>(menus: &'a BTreeMap<String, IvrMenu>, id: &str) -> Vec<(String, &'a str)> {
    let Some(menu) = menus.get(id) else {
        return Vec::new();
    };
    menu.submenus()
        .filter(|(_, to)| menus.get(*to).is_some_and(|m| m.prompt.is_none()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::test_util::{fields_rules, round_trip};

    fn menu(prompt: Option<&str>, choices: &[(&str, IvrAction)]) -> IvrMenu {
        IvrMenu {
            name: "m".into(),
            prompt: prompt.map(Into::into),
            timeout_seconds: 5,
            inter_digit_timeout_seconds: 3,
            max_invalid: 3,
            invalid_prompt: None,
            choices: choices
                .iter()
                .map(|(d, a)| IvrChoice {
                    digit: (*d).into(),
                    action: a.clone(),
                })
                .collect(),
            fallback: IvrAction::Hangup {},
        }
    }

    fn sub(id: &str) -> IvrAction {
        IvrAction::Submenu { id: id.into() }
    }

    fn queues(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn graph(menus: &[(&str, IvrMenu)]) -> BTreeMap<String, IvrMenu> {
        menus
            .iter()
            .map(|(id, m)| ((*id).to_owned(), m.clone()))
            .collect()
    }

    #[test]
    fn a_full_menu_parses_and_round_trips() {
        let m: IvrMenu = parse(
            br##"{"name": "Main", "prompt": "main-menu", "timeout_seconds": 5,
                 "inter_digit_timeout_seconds": 3, "max_invalid": 3, "invalid_prompt": "try-again",
                 "choices": [{"digit": "1", "action": {"type": "queue", "id": "sales"}},
                             {"digit": "2", "action": {"type": "submenu", "id": "support"}},
                             {"digit": "3", "action": {"type": "voicemail", "email": "a@acme.ru"}},
                             {"digit": "4", "action": {"type": "callback", "queue": "sales"}},
                             {"digit": "5", "action": {"type": "transfer", "number": "8 (495) 123-45-67"}},
                             {"digit": "0", "action": {"type": "operator"}},
                             {"digit": "*", "action": {"type": "repeat"}},
                             {"digit": "#", "action": {"type": "hangup"}}],
                 "fallback": {"type": "queue", "id": "sales"}}"##,
        )
        .unwrap();
        assert_eq!(
            m.choices[4].action,
            IvrAction::Transfer {
                number: "+74951234567".into()
            }
        );
        round_trip(&m);
        let minimal: IvrMenu = parse(br#"{"name": "Silent"}"#).unwrap();
        assert_eq!(minimal.timeout_seconds, 5);
        assert_eq!(minimal.fallback, IvrAction::Hangup {});
        round_trip(&minimal);
    }

    #[test]
    fn digits_are_keys_and_unique() {
        let errs = parse::<IvrMenu>(
            br#"{"name": "Main",
                 "choices": [{"digit": "1", "action": {"type": "hangup"}},
                             {"digit": "1", "action": {"type": "repeat"}},
                             {"digit": "12", "action": {"type": "hangup"}},
                             {"digit": "A", "action": {"type": "hangup"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("choices[1].digit", "duplicate"),
                ("choices[2].digit", "format"),
                ("choices[3].digit", "format"),
            ]
        );
    }

    #[test]
    fn timeouts_and_fallback_are_checked() {
        let errs = parse::<IvrMenu>(
            br#"{"name": "Main", "timeout_seconds": 0, "inter_digit_timeout_seconds": 31,
                 "max_invalid": 11, "fallback": {"type": "repeat"},
                 "choices": [{"digit": "1", "action": {"type": "transfer", "number": "12345"}},
                             {"digit": "2", "action": {"type": "queue", "id": "no such"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("timeout_seconds", "range"),
                ("inter_digit_timeout_seconds", "range"),
                ("max_invalid", "range"),
                ("choices[0].action.number", "format"),
                ("choices[1].action.id", "format"),
                ("fallback", "not_allowed"),
            ]
        );
        let errs = parse::<IvrMenu>(
            br#"{"name": "Main", "choices": [{"digit": "1", "action": {"type": "hangup", "id": "x"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [("choices[0].action.id", "unknown_field")]
        );
        let errs = parse::<IvrMenu>(
            br#"{"name": "Main", "choices": [{"digit": "1", "action": {"type": "queue"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(fields_rules(&errs), [("choices[0].action.id", "required")]);
    }

    #[test]
    fn dangling_submenus_and_queues_are_unknown_references() {
        let menus = graph(&[(
            "main",
            IvrMenu {
                fallback: IvrAction::Callback {
                    queue: "gone".into(),
                },
                ..menu(
                    Some("p"),
                    &[
                        ("1", IvrAction::Queue { id: "sales".into() }),
                        ("2", sub("billing")),
                        ("3", IvrAction::Queue { id: "nope".into() }),
                    ],
                )
            },
        )]);
        let errs = validate_ivr_graph(&menus, &queues(&["sales"])).unwrap_err();
        assert_eq!(
            fields_rules(&errs),
            [
                ("main.choices[1].action.id", "unknown_reference"),
                ("main.choices[2].action.id", "unknown_reference"),
                ("main.fallback.queue", "unknown_reference"),
            ]
        );
    }

    #[test]
    fn a_loop_with_a_prompt_is_allowed() {
        // main -> billing -> (9) back to main: main plays its prompt each time round.
        let menus = graph(&[
            ("main", menu(Some("main-menu"), &[("1", sub("billing"))])),
            ("billing", menu(None, &[("9", sub("main"))])),
        ]);
        assert_eq!(validate_ivr_graph(&menus, &queues(&[])), Ok(()));
        // A menu that leads to itself and has a prompt is "repeat" by another name.
        let menus = graph(&[("main", menu(Some("p"), &[("1", sub("main"))]))]);
        assert_eq!(validate_ivr_graph(&menus, &queues(&[])), Ok(()));
    }

    #[test]
    fn a_silent_loop_is_a_cycle() {
        let menus = graph(&[
            ("a", menu(None, &[("1", sub("b"))])),
            ("b", menu(None, &[("1", sub("c"))])),
            ("c", menu(None, &[("1", sub("a"))])),
            ("entry", menu(Some("p"), &[("1", sub("a"))])),
        ]);
        let errs = validate_ivr_graph(&menus, &queues(&[])).unwrap_err();
        assert_eq!(fields_rules(&errs), [("c.choices[0].action.id", "cycle")]);
        assert!(
            errs[0].message.contains("a -> b -> c -> a"),
            "{}",
            errs[0].message
        );

        let menus = graph(&[("x", menu(None, &[("5", sub("x"))]))]);
        let errs = validate_ivr_graph(&menus, &queues(&[])).unwrap_err();
        assert_eq!(fields_rules(&errs), [("x.choices[0].action.id", "cycle")]);

        // Through the fallback too.
        let mut y = menu(None, &[]);
        y.fallback = sub("z");
        let menus = graph(&[("y", y), ("z", menu(None, &[("1", sub("y"))]))]);
        let errs = validate_ivr_graph(&menus, &queues(&[])).unwrap_err();
        assert_eq!(fields_rules(&errs), [("z.choices[0].action.id", "cycle")]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 20_000;
        let mut menus = BTreeMap::new();
        for i in 0..n {
            let next = format!("m{}", (i + 1) % n);
            menus.insert(format!("m{i}"), menu(None, &[("1", sub(&next))]));
        }
        let errs = validate_ivr_graph(&menus, &queues(&[])).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].rule, "cycle");
    }

    #[test]
    fn references_cover_prompts_menus_and_queues() {
        let mut m = menu(
            Some("p"),
            &[("1", IvrAction::Queue { id: "q".into() }), ("2", sub("s"))],
        );
        m.invalid_prompt = Some("bad".into());
        m.fallback = IvrAction::Callback { queue: "cb".into() };
        let r: Vec<_> = m
            .references()
            .into_iter()
            .map(|r| (r.field, r.kind, r.id))
            .collect();
        assert_eq!(
            r,
            [
                ("prompt".to_owned(), "prompt", "p".to_owned()),
                ("invalid_prompt".to_owned(), "prompt", "bad".to_owned()),
                ("choices[0].action.id".to_owned(), "queue", "q".to_owned()),
                (
                    "choices[1].action.id".to_owned(),
                    "ivr-menu",
                    "s".to_owned()
                ),
                ("fallback.queue".to_owned(), "queue", "cb".to_owned()),
            ]
        );
    }
}
