//! The contest's rules, in plain Rust: groups, boards, scoring, profile fields, cooldowns,
//! badges, writeup rank and site templates. Organizers edit this file, and nothing else.
//!
//! Every rule is a constant or a small function with a strong type, so a change that
//! breaks another part of the system is caught by the compiler. The defaults are
//! PKU GeekGame's, which the existing web frontend and the golden answers expect.

// ---------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------

/// Every user group: `(key stored in user.group, name shown to players)`.
pub const GROUPS: &[(&str, &str)] = &[
    ("pku", "北京大学"),
    ("thu", "清华大学"),
    ("other", "校外选手"),
    ("staff", "工作人员"),
    ("banned", "已封禁"),
];

/// The group whose members may not play (checked by `check_update_profile`).
pub const BANNED_GROUP: &str = "banned";

/// The group that sees boxed hints early and receives feedback notifications.
pub const STAFF_GROUP: &str = "staff";

/// Group of users registered through the manual login (testing and staff accounts).
pub const MANUAL_LOGIN_GROUP: &str = "staff";

/// Name of a group as players see it; unknown groups show as `(group)`.
pub fn group_display(group: &str) -> String {
    GROUPS
        .iter()
        .find(|(key, _)| *key == group)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_else(|| format!("({group})"))
}

// ---------------------------------------------------------------------------------------
// Scoring
// ---------------------------------------------------------------------------------------

/// Groups whose solvers make a flag's dynamic score decay.
pub const SCORE_DECAY_GROUPS: &[&str] = &["pku", "thu"];

/// The dynamic score of a flag after `solvers` counted solves.
///
/// `powf` (C `pow`), not `powi`: the truncation must agree bit for bit with the reference.
pub fn flag_score(base_score: i64, solvers: usize) -> i64 {
    (base_score as f64 * (0.3 + 0.7 * 0.99f64.powf(solvers as f64))) as i64
}

/// Percentage stored as `percentage_override` on submissions made while the policy deducts.
pub const DEDUCTION_PERCENTAGE: i64 = 35;

/// Category colours, in the order `tot_score_by_cat` lists known categories.
pub const CATEGORY_COLORS: &[(&str, &str)] = &[
    ("Tutorial", "#333333"),
    ("Misc", "#7e2d86"),
    ("Web", "#2d8664"),
    ("Binary", "#864a2d"),
    ("Algorithm", "#2f2d86"),
];

/// Colour of a category not in [`CATEGORY_COLORS`].
pub const DEFAULT_CATEGORY_COLOR: &str = "#000000";

/// Colour shown for a challenge category.
pub fn category_color(category: &str) -> &'static str {
    CATEGORY_COLORS
        .iter()
        .find(|(cat, _)| *cat == category)
        .map(|(_, color)| *color)
        .unwrap_or(DEFAULT_CATEGORY_COLOR)
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

/// The tick at which the scoreboard's time range begins.
pub const TICK_BOARD_BEGIN: i64 = 1000;
/// The tick at which the scoreboard's time range ends and authors are revealed.
pub const TICK_BOARD_END: i64 = 9000;

// ---------------------------------------------------------------------------------------
// Boards
// ---------------------------------------------------------------------------------------

/// What a board ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardKind {
    /// Users ranked by score; `category` limits it to one challenge category.
    Score {
        /// Only this category's challenges count, when set.
        category: Option<&'static str>,
        /// How many users the board lists.
        max_display_users: usize,
    },
    /// The first passing submission per flag and per challenge.
    FirstBlood,
}

/// One board of the contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardSpec {
    /// URL key, as in `/wish/board/<key>`.
    pub key: &'static str,
    /// Name shown in pushes and the user's rank line.
    pub name: &'static str,
    /// Text shown under the board.
    pub desc: Option<&'static str>,
    /// Groups whose users appear on the board.
    pub groups: &'static [&'static str],
    /// Whether each entry shows the user's group.
    pub show_group: bool,
    /// Score or first-blood board.
    pub kind: BoardKind,
}

/// How many users' score curves a score board shows.
pub const MAX_TOPSTAR_USERS: usize = 10;

const fn score_board(
    key: &'static str,
    name: &'static str,
    desc: Option<&'static str>,
    groups: &'static [&'static str],
    show_group: bool,
    category: Option<&'static str>,
    max_display_users: usize,
) -> BoardSpec {
    BoardSpec {
        key,
        name,
        desc,
        groups,
        show_group,
        kind: BoardKind::Score {
            category,
            max_display_users,
        },
    }
}

const fn first_blood_board(
    key: &'static str,
    name: &'static str,
    desc: Option<&'static str>,
    groups: &'static [&'static str],
    show_group: bool,
) -> BoardSpec {
    BoardSpec {
        key,
        name,
        desc,
        groups,
        show_group,
        kind: BoardKind::FirstBlood,
    }
}

const ALL_PLAYERS: &[&str] = &["pku", "thu", "other"];
const BINARY_DESC: Option<&str> = Some("仅计入 Binary 分类题目，前三名预计可获得比特之星奖");
const FIRST_BLOOD_DESC: Option<&str> = Some("题目一血与奖项无关，仅供参考");

/// The boards, in the order they are listed.
pub const BOARDS: &[BoardSpec] = &[
    score_board(
        "score_pku",
        "北京大学排名",
        None,
        &["pku"],
        false,
        None,
        100,
    ),
    score_board(
        "score_thu",
        "清华大学排名",
        None,
        &["thu"],
        false,
        None,
        100,
    ),
    score_board(
        "score_other",
        "校外选手排名",
        Some("其他选手不参与评奖，但符合要求的可申请领取成绩证明和纪念品"),
        &["other"],
        false,
        None,
        100,
    ),
    first_blood_board("first_pku", "北京大学一血榜", None, &["pku"], false),
    first_blood_board("first_thu", "清华大学一血榜", None, &["thu"], false),
    first_blood_board(
        "first_other",
        "校外选手一血榜",
        FIRST_BLOOD_DESC,
        &["other"],
        false,
    ),
    score_board(
        "binary_score_pku",
        "北京大学比特之星榜",
        BINARY_DESC,
        &["pku"],
        false,
        Some("Binary"),
        30,
    ),
    score_board(
        "binary_score_thu",
        "清华大学比特之星榜",
        BINARY_DESC,
        &["thu"],
        false,
        Some("Binary"),
        30,
    ),
    score_board(
        "score_all",
        "总排名",
        Some("总排名与校内奖项无关，仅供参考"),
        ALL_PLAYERS,
        true,
        None,
        200,
    ),
    first_blood_board("first_all", "总一血榜", FIRST_BLOOD_DESC, ALL_PLAYERS, true),
    score_board(
        "banned",
        "已封禁",
        Some("R.I.P."),
        &["banned"],
        true,
        None,
        200,
    ),
];

/// Groups of the first-blood boards whose challenges may be eligible for first-blood awards.
pub const FIRST_BLOOD_AWARD_GROUPS: &[&[&str]] = &[&["pku"], &["thu"]];

/// The board (key) whose rank a user sees on the game page.
pub fn home_board(group: &str) -> &'static str {
    match group {
        "pku" => "score_pku",
        "thu" => "score_thu",
        _ => "score_all",
    }
}

/// Whether first-blood pushes from a board are sent (the all-groups board stays silent).
pub fn board_pushes_first_blood(board: &BoardSpec) -> bool {
    board.key != "first_all"
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

/// One editable profile field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileField {
    /// Shown on boards.
    Nickname,
    /// QQ number.
    Qq,
    /// Telephone number.
    Tel,
    /// Tsinghua e-mail address.
    Email,
    /// Tsinghua student id, checked against a `carsi:` login key.
    Stuid,
    /// How the player heard of the contest.
    Comment,
}

impl ProfileField {
    /// Every field, in the order the reference validates them.
    pub const ALL: [ProfileField; 6] = [
        ProfileField::Nickname,
        ProfileField::Qq,
        ProfileField::Tel,
        ProfileField::Email,
        ProfileField::Stuid,
        ProfileField::Comment,
    ];

    /// Column and JSON key name of the field.
    pub fn name(self) -> &'static str {
        match self {
            ProfileField::Nickname => "nickname",
            ProfileField::Qq => "qq",
            ProfileField::Tel => "tel",
            ProfileField::Email => "email",
            ProfileField::Stuid => "stuid",
            ProfileField::Comment => "comment",
        }
    }

    /// The field with this column name.
    pub fn from_name(name: &str) -> Option<ProfileField> {
        ProfileField::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Profile fields a user of `group` must fill in, in display order.
pub fn profile_fields(group: &str) -> &'static [ProfileField] {
    use ProfileField::*;
    match group {
        "staff" | "pku" => &[Nickname, Tel, Qq, Comment],
        "thu" => &[Nickname, Email, Qq, Stuid, Comment],
        "other" | "banned" => &[Nickname, Qq, Comment],
        _ => &[],
    }
}

/// Writeups are required from users ranked at most this on their group's board.
pub fn writeup_required_rank(group: &str) -> Option<(&'static str, usize)> {
    match group {
        "pku" => Some(("score_pku", 33)),
        "thu" => Some(("score_thu", 33)),
        _ => None,
    }
}

/// Seconds a user waits after a wrong flag before submitting again.
pub const FLAG_COOLDOWN_S: f64 = 10.0;
/// Seconds between two profile updates.
pub const PROFILE_COOLDOWN_S: f64 = 10.0;
/// Seconds between two feedback messages.
pub const FEEDBACK_COOLDOWN_S: f64 = 3600.0;
/// Seconds between two writeup uploads.
pub const WRITEUP_COOLDOWN_S: f64 = 60.0;
/// Longest accepted feedback, in characters.
pub const FEEDBACK_MAX_CHARS: usize = 1200;
/// Largest accepted writeup upload, in MiB.
pub const WRITEUP_MAX_SIZE_MB: u64 = 20;

/// IAAA identity id prefixes of first-year PKU students (the `rookie` badge).
pub const PKU_ROOKIE_ID_PREFIXES: &[&str] = &["25000", "25101", "25103"];
/// THU student number prefixes of first-year students (the `rookie` badge).
pub const THU_ROOKIE_STUID_PREFIXES: &[&str] = &["202501", "202508"];

// ---------------------------------------------------------------------------------------
// Site
// ---------------------------------------------------------------------------------------

/// Site templates shown in the menu: `(file name without .md, title, visible from tick)`.
pub const SITE_TEMPLATES: &[(&str, &str, i64)] =
    &[("faq", "选手常见问题", 0), ("credits", "工作人员", 9000)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_score_decays_from_base() {
        assert_eq!(flag_score(100, 0), 100);
        assert_eq!(flag_score(100, 1), 99);
        assert!(flag_score(1000, 100_000) >= 300);
    }

    #[test]
    fn unknown_group_is_shown_in_parentheses() {
        assert_eq!(group_display("pku"), "北京大学");
        assert_eq!(group_display("alien"), "(alien)");
    }

    #[test]
    fn every_board_key_is_unique() {
        let mut keys: Vec<_> = BOARDS.iter().map(|b| b.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), BOARDS.len());
    }
}
