//! Generated contests: the demo contest a fresh checkout starts with, and the random
//! contests of the property tests and benchmarks. Deterministic for a given seed.

use crate::rows::{
    AnnouncementRow, ChallengeRow, GamePolicyRow, SubmissionRow, Tables, TriggerRow,
    UserProfileRow, UserRow,
};
use crate::state::flag::FlagSpec;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

/// Size and timing of a generated contest.
#[derive(Debug, Clone)]
pub struct ContestShape {
    /// Seed of the random generator.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Number of submissions.
    pub submissions: usize,
    /// Time of the tick-1000 trigger (contest start), in seconds.
    pub start_s: i64,
    /// Contest length in seconds (phase two begins halfway).
    pub duration_s: i64,
    /// Submissions are spread up to this time at most (a running contest has no
    /// submissions from the future); `None`: over the whole contest.
    pub now_s: Option<i64>,
}

impl Default for ContestShape {
    fn default() -> Self {
        ContestShape {
            seed: 1,
            users: 60,
            submissions: 1000,
            start_s: 1_789_395_200,
            duration_s: 7 * 86_400,
            now_s: None,
        }
    }
}

const CATEGORIES: &[&str] = &["Tutorial", "Misc", "Web", "Binary", "Algorithm", "Crypto"];
const GROUPS: &[(&str, u32)] = &[
    ("pku", 45),
    ("thu", 20),
    ("other", 25),
    ("staff", 5),
    ("banned", 5),
];

fn flag_json(rng: &mut StdRng, key: &str, idx: usize, name: &str) -> Value {
    let base_score = [50, 100, 150, 200, 250, 300, 400][rng.random_range(0..7)];
    match rng.random_range(0..4) {
        0 => json!({"name": name, "type": "static", "base_score": base_score,
                    "val": format!("flag{{{key}_static_{idx}_{}}}", rng.random_range(100_000..999_999))}),
        1 => json!({"name": name, "type": "leet", "base_score": base_score,
                    "val": format!("flag{{this_is_a_leetable_flag_for_{key}_number_{idx}}}"),
                    "salt": format!("salt-{key}-{idx}")}),
        2 => json!({"name": name, "type": "partitioned", "base_score": base_score,
                    "val": (0..4).map(|p| format!("flag{{{key}_part_{idx}_{p}}}")).collect::<Vec<_>>()}),
        _ => json!({"name": name, "type": "wordlist", "base_score": base_score,
                    "val": "flag{have-a-%1-%2%3}",
                    "words": [["good", "great", "nice"], ["day", "time"], ["", "!", "~~"]]}),
    }
}

fn challenge(rng: &mut StdRng, id: i64) -> ChallengeRow {
    let key = format!("chall_{id}");
    let n_flags = [1, 1, 1, 2, 3][rng.random_range(0..5)];
    let flags: Vec<Value> = (0..n_flags)
        .map(|i| {
            let name = if n_flags == 1 {
                String::new()
            } else {
                format!("Flag {}", i + 1)
            };
            flag_json(rng, &key, i, &name)
        })
        .collect();
    let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
    ChallengeRow {
        id,
        effective_after: if rng.random_bool(0.15) { 2000 } else { 1000 },
        title: format!("Challenge {id}"),
        category: category.to_owned(),
        sorting_index: rng.random_range(0..20),
        desc_template: format!(
            "# {key}\n\nYou are in group `{{{{ group }}}}` at tick {{{{ tick }}}}.\n\n{{% call box(2000) %}}\nA hint for phase two.\n{{% endcall %}}\n"
        ),
        chall_metadata: json!({"author": format!("author{id}"), "first_blood_award_eligible": rng.random_bool(0.3), "score_deduction_eligible": rng.random_bool(0.9)}),
        actions: json!([{"name": "题目附件", "effective_after": 0, "type": "attachment", "filename": format!("{key}.zip"), "file_path": format!("{key}/{key}.zip")}]),
        flags: Value::Array(flags),
        key,
    }
}

fn pick_group(rng: &mut StdRng) -> &'static str {
    let total: u32 = GROUPS.iter().map(|g| g.1).sum();
    let mut r = rng.random_range(0..total);
    for (g, w) in GROUPS {
        if r < *w {
            return g;
        }
        r -= w;
    }
    "other"
}

fn user(rng: &mut StdRng, id: i64, start_ms: i64) -> (UserRow, UserProfileRow) {
    let group = if id == 1 { "staff" } else { pick_group(rng) };
    let login_key = match group {
        "pku" => format!("iaaa:{id:010}"),
        "thu" => format!("carsi:{:032x}", id),
        "staff" if id == 1 => "manual:admin".to_owned(),
        "staff" => format!("manual:staff{id}"),
        _ => format!("github:{}", 1000 + id),
    };
    let profile = UserProfileRow {
        id,
        user_id: id,
        timestamp_ms: start_ms - 86_400_000 + id,
        nickname: Some(format!("player {id}")),
        qq: Some(format!("{}", 10_000 + id)),
        tel: matches!(group, "pku" | "staff").then(|| format!("138{id:08}")),
        email: (group == "thu").then(|| format!("u{id}@mails.tsinghua.edu.cn")),
        stuid: None,
        comment: Some("generated".into()),
    };
    let row = UserRow {
        id,
        login_key,
        login_properties: json!({"type": if group == "staff" { "manual" } else { "github" }}),
        timestamp_ms: start_ms - 2 * 86_400_000 + id,
        enabled: rng.random_bool(0.98) || id == 1,
        group: group.to_owned(),
        token: Some(format!("GgT-demo-token-{id}")),
        auth_token: Some(format!(
            "{id}_demo_auth_token_{:032x}",
            rng.random::<u128>()
        )),
        profile_id: Some(id),
        terms_agreed: rng.random_bool(0.97) || id == 1,
        last_feedback_ms: None,
    };
    (row, profile)
}

/// Generates a whole contest of the given shape.
pub fn generate(shape: &ContestShape) -> Tables {
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let start = shape.start_s;
    let phase_two = start + shape.duration_s / 2;
    let end = start + shape.duration_s;
    let trigger = vec![
        TriggerRow {
            id: 1,
            tick: 0,
            timestamp_s: start - 3 * 86_400,
            name: "报名开放".into(),
        },
        TriggerRow {
            id: 2,
            tick: 1000,
            timestamp_s: start,
            name: "比赛开始".into(),
        },
        TriggerRow {
            id: 3,
            tick: 2000,
            timestamp_s: phase_two,
            name: "第二阶段".into(),
        },
        TriggerRow {
            id: 4,
            tick: 9000,
            timestamp_s: end,
            name: "比赛结束".into(),
        },
    ];
    let policy = |id, ea, view, flag, wp, ded| GamePolicyRow {
        id,
        effective_after: ea,
        can_view_problem: view,
        can_submit_flag: flag,
        can_submit_writeup: wp,
        is_submission_deducted: ded,
    };
    let game_policy = vec![
        policy(1, 0, false, false, false, false),
        policy(2, 1000, true, true, false, false),
        policy(3, 2000, true, true, true, true),
        policy(4, 9000, true, false, true, false),
    ];
    let n_challenges = 12;
    let challenge: Vec<ChallengeRow> = (1..=n_challenges)
        .map(|id| self::challenge(&mut rng, id))
        .collect();
    let specs: Vec<Vec<FlagSpec>> = challenge
        .iter()
        .map(|c| {
            c.flags
                .as_array()
                .map(|l| l.iter().filter_map(|f| FlagSpec::parse(f).ok()).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut user_profile = Vec::new();
    let mut users = Vec::new();
    for id in 1..=shape.users as i64 {
        let (u, p) = user(&mut rng, id, start * 1000);
        users.push(u);
        user_profile.push(p);
    }
    let mut submission = Vec::with_capacity(shape.submissions);
    // A running contest's last submissions are a minute old: none still in a cooldown.
    let last_s = shape.now_s.map_or(end, |now| (now - 60).clamp(start, end));
    let step_ms = ((last_s - start) * 1000 / shape.submissions.max(1) as i64).max(1);
    let mut ts = start * 1000;
    for id in 1..=shape.submissions as i64 {
        ts = (ts + rng.random_range(1..=2 * step_ms)).min(last_s * 1000);
        let uid = rng.random_range(1..=shape.users.max(1) as i64);
        let ci = rng.random_range(0..challenge.len());
        let ch = &challenge[ci];
        let flag = if rng.random_bool(0.6) && !specs[ci].is_empty() {
            let fi = rng.random_range(0..specs[ci].len());
            specs[ci][fi]
                .correct_value(&ch.key, uid, None)
                .unwrap_or_else(|_| "flag{x}".into())
        } else {
            format!("flag{{wrong_{}}}", rng.random_range(0..100_000_000))
        };
        let deducted = ts / 1000 >= phase_two && rng.random_bool(0.9);
        let score_override = rng.random_bool(0.005).then(|| rng.random_range(0..200));
        submission.push(SubmissionRow {
            id,
            user_id: uid,
            challenge_key: if rng.random_bool(0.01) {
                "deleted_chall".into()
            } else {
                ch.key.clone()
            },
            flag,
            timestamp_ms: ts,
            score_override_or_null: score_override,
            percentage_override_or_null: deducted.then_some(crate::rules::DEDUCTION_PERCENTAGE),
        });
    }
    let announcement = vec![
        AnnouncementRow {
            id: 1,
            timestamp_s: start,
            title: "比赛开始".into(),
            content_template: "Welcome, **{{ group }}**!\n".into(),
        },
        AnnouncementRow {
            id: 2,
            timestamp_s: phase_two,
            title: "Phase two".into(),
            content_template: "{% if tick >= 2000 %}Phase two is *on*.{% endif %}\n".into(),
        },
    ];
    Tables {
        trigger,
        game_policy,
        challenge,
        user_profile,
        user: users,
        submission,
        announcement,
        feedback: Vec::new(),
        log: Vec::new(),
        dynamic_flag: Vec::new(),
    }
}
