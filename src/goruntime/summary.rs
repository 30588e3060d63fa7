//! A dump summarised: goroutines grouped by role and by where they wait, and
//! across several dumps of one process, the groups that keep growing.

use super::classify::{classify_at, first_app_frame, is_transport_dial, Role};
use super::{Dump, StackFrame};
use std::collections::BTreeMap;
use std::time::Duration;

/// At most this many ids kept per group, as examples.
pub const MAX_EXAMPLES: usize = 16;

/// At most this many distinct label sets kept per group (each can join one
/// request), the rest counted in the group only.
pub const MAX_LABEL_SETS: usize = 4096;

/// Growth is judged over at least this many dumps.
pub const LEAK_MIN_DUMPS: usize = 3;

/// A group grows when each dump has at least as many as the one before and
/// the last has at least this many more than the first ...
pub const LEAK_MIN_GROWTH: u64 = 10;

/// ... and at least this many times as many.
pub const LEAK_MIN_FACTOR: u64 = 2;

/// Goroutines of one dump that play the same role and wait in the same place.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Their role.
    pub role: Role,
    /// The first frame outside the runtime and the standard library: the
    /// application code they are in, if any.
    pub at: Option<StackFrame>,
    /// The innermost frame outside package `runtime`: what they wait on
    /// (`main.hang`, `sync.(*Mutex).Lock`, `internal/poll.runtime_pollWait`).
    pub blocked_in: Option<StackFrame>,
    /// The standard-library frame that gave the role
    /// (`net/http.(*persistConn).readLoop`).
    pub role_frame: Option<StackFrame>,
    /// They are opening connections for an HTTP Transport (`dialConnFor`):
    /// one goroutine per dial in progress.
    pub transport_dial: bool,
    /// Whether they carry pprof labels (label sets are kept per group, so
    /// labelled and unlabelled goroutines are not merged).
    pub labelled: bool,
    /// The scheduler state, when the dump gives it (`debug=2`).
    pub state: Option<String>,
    /// How many goroutines.
    pub count: u64,
    /// The longest wait among them (`debug=2`, whole minutes from one).
    pub max_wait: Option<Duration>,
    /// Goroutine ids (`debug=2`), the first [`MAX_EXAMPLES`].
    pub ids: Vec<u64>,
    /// Label sets, the first [`MAX_EXAMPLES`] (each with its count).
    pub labels: Vec<(Vec<(String, String)>, u64)>,
}

impl Group {
    /// The label `key` of every example that has one.
    pub fn label_values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.labels.iter().filter_map(move |(set, n)| {
            set.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (v.as_str(), *n))
        })
    }

    /// Where to point a reader: the application frame, else the frame that
    /// gave the role, else the blocking one.
    pub fn place(&self) -> Option<&StackFrame> {
        self.at
            .as_ref()
            .or(self.role_frame.as_ref())
            .or(self.blocked_in.as_ref())
    }
}

/// The dump's goroutines grouped, in role order, larger groups first.
pub fn summarize(dump: &Dump) -> Vec<Group> {
    type Key = (
        Role,
        Option<(String, u32)>,
        Option<String>,
        Option<String>,
        bool,
        bool,
    );
    type LabelSet = Vec<(String, String)>;
    let mut groups: BTreeMap<Key, (Group, std::collections::HashMap<LabelSet, usize>)> =
        BTreeMap::new();
    for g in &dump.goroutines {
        let (role, role_frame) = classify_at(g);
        let role_frame = role_frame.cloned();
        let at = first_app_frame(&g.frames).cloned();
        let blocked_in = g
            .frames
            .iter()
            .find(|f| super::classify::package_of(&f.function) != "runtime")
            .cloned();
        let key = (
            role.clone(),
            at.as_ref().map(|f| (f.function.clone(), f.line)),
            blocked_in.as_ref().map(|f| f.function.clone()),
            g.state.clone(),
            is_transport_dial(g),
            !g.labels.is_empty(),
        );
        let (group, index) = groups.entry(key).or_insert_with(|| {
            let group = Group {
                role,
                at,
                blocked_in,
                role_frame,
                transport_dial: is_transport_dial(g),
                labelled: !g.labels.is_empty(),
                state: g.state.clone(),
                count: 0,
                max_wait: None,
                ids: Vec::new(),
                labels: Vec::new(),
            };
            (group, std::collections::HashMap::new())
        });
        group.count = group.count.saturating_add(g.count);
        group.max_wait = group.max_wait.max(g.wait);
        if let Some(id) = g.id {
            if group.ids.len() < MAX_EXAMPLES {
                group.ids.push(id);
            }
        }
        if !g.labels.is_empty() {
            match index.get(&g.labels) {
                Some(&i) => group.labels[i].1 = group.labels[i].1.saturating_add(g.count),
                None if group.labels.len() < MAX_LABEL_SETS => {
                    index.insert(g.labels.clone(), group.labels.len());
                    group.labels.push((g.labels.clone(), g.count));
                }
                None => {}
            }
        }
    }
    let mut out: Vec<Group> = groups.into_values().map(|(g, _)| g).collect();
    out.sort_by(|a, b| a.role.cmp(&b.role).then(b.count.cmp(&a.count)));
    out
}

/// The number of goroutines in each role.
pub fn role_counts(groups: &[Group]) -> BTreeMap<Role, u64> {
    let mut counts = BTreeMap::new();
    for g in groups {
        *counts.entry(g.role.clone()).or_insert(0) += g.count;
    }
    counts
}

/// A group of goroutines that grew from dump to dump.
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    /// The role of the group.
    pub role: Role,
    /// Where they wait (application frame, else the blocking one).
    pub place: Option<StackFrame>,
    /// The count in each dump, oldest first.
    pub counts: Vec<u64>,
}

/// Groups (by role and place) whose count never falls from one dump to the
/// next over at least [`LEAK_MIN_DUMPS`], starts above zero and grows by at
/// least [`LEAK_MIN_GROWTH`] and [`LEAK_MIN_FACTOR`] from first to last. `dumps` are the summaries of one process, oldest first.
pub fn growing(dumps: &[Vec<Group>]) -> Vec<Growth> {
    if dumps.len() < 2 {
        return Vec::new();
    }
    type Key = (Role, Option<(String, u32)>);
    let mut series: BTreeMap<Key, (Option<StackFrame>, Vec<u64>)> = BTreeMap::new();
    for (i, groups) in dumps.iter().enumerate() {
        for g in groups {
            let place = g.place().cloned();
            let key = (
                g.role.clone(),
                place.as_ref().map(|f| (f.function.clone(), f.line)),
            );
            let entry = series
                .entry(key)
                .or_insert_with(|| (place, vec![0; dumps.len()]));
            entry.1[i] = entry.1[i].saturating_add(g.count);
        }
    }
    let mut out: Vec<Growth> = series
        .into_iter()
        .filter(|(_, (_, counts))| {
            let (first, last) = (counts[0], counts[counts.len() - 1]);
            // From a baseline that exists: load arriving after the first
            // dump is not a leak.
            first > 0
                && counts.len() >= LEAK_MIN_DUMPS
                && counts.windows(2).all(|w| w[1] >= w[0])
                && last >= first.saturating_add(LEAK_MIN_GROWTH)
                && last >= first.max(1).saturating_mul(LEAK_MIN_FACTOR)
        })
        .map(|((role, _), (place, counts))| Growth {
            role,
            place,
            counts,
        })
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.counts.last().copied().unwrap_or(0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goruntime::Goroutine;

    fn g(id: u64, functions: &[&str], state: &str, wait_min: u64) -> Goroutine {
        Goroutine {
            id: Some(id),
            count: 1,
            state: Some(state.into()),
            wait: (wait_min > 0).then(|| Duration::from_secs(wait_min * 60)),
            frames: functions
                .iter()
                .map(|f| StackFrame {
                    function: f.to_string(),
                    file: if f.starts_with("main.") {
                        "/app/main.go".into()
                    } else {
                        "/usr/lib/go/src/net/http/server.go".into()
                    },
                    line: 7,
                })
                .collect(),
            ..Goroutine::default()
        }
    }

    fn handler(id: u64, wait: u64) -> Goroutine {
        g(
            id,
            &[
                "main.hang",
                "net/http.serverHandler.ServeHTTP",
                "net/http.(*conn).serve",
            ],
            "select",
            wait,
        )
    }

    #[test]
    fn handlers_waiting_in_one_place_are_one_group() {
        let dump = Dump {
            goroutines: vec![
                handler(1, 0),
                handler(2, 4),
                handler(3, 1),
                g(4, &["net/http.(*persistConn).readLoop"], "IO wait", 0),
            ],
            ..Dump::default()
        };
        let groups = summarize(&dump);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].role, Role::ReadLoop);
        let h = &groups[1];
        assert_eq!(h.role, Role::Handler);
        assert_eq!(h.count, 3);
        assert_eq!(h.max_wait, Some(Duration::from_secs(240)));
        assert_eq!(h.at.as_ref().unwrap().function, "main.hang");
        assert_eq!(h.ids, vec![1, 2, 3]);
    }

    #[test]
    fn growth_needs_a_steady_rise() {
        let dump = |n: u64| {
            let d = Dump {
                goroutines: (0..n)
                    .map(|i| g(i, &["net/http.(*persistConn).readLoop"], "select", 0))
                    .collect(),
                ..Dump::default()
            };
            summarize(&d)
        };
        let grew = growing(&[dump(2), dump(15), dump(40)]);
        assert_eq!(grew.len(), 1);
        assert_eq!(grew[0].role, Role::ReadLoop);
        assert_eq!(grew[0].counts, vec![2, 15, 40]);
        assert!(
            growing(&[dump(2), dump(40), dump(30)]).is_empty(),
            "fell back"
        );
        assert!(
            growing(&[dump(20), dump(29)]).is_empty(),
            "less than the minimum growth"
        );
        assert!(
            growing(&[dump(40)]).is_empty(),
            "one dump says nothing about growth"
        );
    }
}
