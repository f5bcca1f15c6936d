//! The player API's answers (api.md) computed from the game: one function per wish
//! endpoint, returning the JSON object the frontend reads. The HTTP layer only wires them.

use super::board::Board;
use super::challenge::{reorder_by_category, UserIdx};
use super::game::Game;
use super::policy::show_problems_to_guest;
use super::submission::Submission;
use super::trigger::TickDescription;
use super::user::{CheckError, FlagRef, User};
use crate::rules::{self, BoardKind};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// An error answer `{"error": code, "error_msg": message}`.
pub fn error_answer(code: &str, message: &str) -> Value {
    json!({"error": code, "error_msg": message})
}

fn check_error(e: CheckError) -> Value {
    error_answer(e.0, e.1)
}

/// `NO_USER` for endpoints that need a login.
fn no_user() -> Value {
    error_answer("NO_USER", "未登录")
}

/// A successful answer: `{"error": null}` followed by `fields`.
fn ok(fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("error".into(), Value::Null);
    if let Value::Object(m) = fields {
        out.extend(m);
    }
    Value::Object(out)
}

impl Game {
    fn viewer(&self, viewer: Option<UserIdx>) -> Option<&User> {
        viewer.map(|i| &self.users[i as usize])
    }

    fn viewer_is_admin(&self, viewer: Option<UserIdx>) -> bool {
        self.viewer(viewer).is_some_and(|u| self.is_admin(u.id()))
    }

    fn badges_for(&self, u: &User, admin_view: bool) -> Vec<String> {
        let mut b = u.badges.clone();
        if admin_view {
            b.extend(u.admin_badges.iter().cloned());
        }
        b
    }

    /// A user's status on a challenge: passed / partial / untouched, plus `-deducted`.
    pub fn challenge_status(&self, chall: u32, user: Option<&User>) -> String {
        let Some(u) = user else {
            return "untouched".into();
        };
        let ch = &self.challenges[chall as usize];
        let mut passed_any = false;
        let mut passed_all = true;
        let mut deducted = false;
        for i in 0..ch.flags.len() as u32 {
            match u.passed(FlagRef { chall, flag: i }) {
                Some(s) => {
                    passed_any = true;
                    deducted |= self.submissions[s as usize].has_override();
                }
                None => passed_all = false,
            }
        }
        let base = if passed_any && passed_all {
            "passed"
        } else if passed_any {
            "partial"
        } else {
            "untouched"
        };
        if deducted {
            format!("{base}-deducted")
        } else {
            base.to_owned()
        }
    }

    fn flag_status(&self, f: FlagRef, user: Option<&User>) -> String {
        match user.and_then(|u| u.passed(f)) {
            Some(s) if self.submissions[s as usize].has_override() => "passed-deducted".into(),
            Some(_) => "passed".into(),
            None => "untouched".into(),
        }
    }

    fn tot_score_by_cat(&self, u: &User) -> Value {
        if u.tot_score_by_cat.is_empty() {
            Value::Null
        } else {
            json!(reorder_by_category(&u.tot_score_by_cat))
        }
    }

    fn time_range(&self, now_s: i64) -> Value {
        let (begin, end) = self.timeline.board_range(now_s);
        json!([begin, end])
    }

    fn topstar(&self, user: UserIdx) -> Value {
        let u = &self.users[user as usize];
        json!({
            "uid": u.id(),
            "nickname": u.nickname().unwrap_or("--"),
            "history": self.score_history(user),
        })
    }

    // -----------------------------------------------------------------------------------
    // Endpoints
    // -----------------------------------------------------------------------------------

    /// `game_info`, stamped `diag_ts` (the server's clock, in seconds) as the reference
    /// does. Asked on every page load, so it is serialized straight from the game.
    pub fn answer_game_info(
        &self,
        viewer: Option<UserIdx>,
        push_enabled: bool,
        diag_ts: i64,
    ) -> GameInfoAnswer<'_> {
        let policy = self.policy();
        let user = self.viewer(viewer).map(|u| GameInfoUser {
            id: u.id(),
            login_key: &u.row.login_key,
            group: &u.row.group,
            group_disp: u.group_display(),
            badges: &u.badges,
            token: if policy.can_view_problem || self.is_admin(u.id()) {
                u.row.token.as_deref()
            } else {
                Some("")
            },
            profile: ProfileView(u),
            terms_agreed: u.row.terms_agreed,
        });
        let can_play = self
            .viewer(viewer)
            .is_some_and(|u| u.check_play_game().is_ok());
        GameInfoAnswer {
            error: (),
            user,
            feature: Features {
                push: push_enabled && can_play,
                game: viewer.is_some() || show_problems_to_guest(policy),
                submit_flag: policy.can_submit_flag,
                templates: TemplateList(self.cur_tick),
            },
            cur_tick: self.cur_tick,
            diag_ts,
        }
    }

    /// `announcements`: newest first, rendered for the viewer's group.
    pub fn answer_announcements(&self, viewer: Option<UserIdx>) -> Value {
        let group = self.viewer(viewer).map(|u| u.row.group.as_str());
        let list: Vec<Value> = self
            .announcements
            .iter()
            .map(|a| a.describe(group, self.cur_tick, &self.problem_log))
            .collect();
        ok(json!({ "list": list }))
    }

    /// `triggers`: every trigger with its status relative to the current tick.
    pub fn answer_triggers(&self) -> Value {
        let list: Vec<Value> = self
            .timeline
            .triggers()
            .iter()
            .map(|t| {
                let status = if t.tick == self.cur_tick {
                    "prs"
                } else if t.tick > self.cur_tick {
                    "ftr"
                } else {
                    "pst"
                };
                json!({"timestamp_s": t.timestamp_s, "name": t.name, "status": status})
            })
            .collect();
        ok(json!({ "list": list }))
    }

    /// `game`: the challenge list with the viewer's status, their score and rank, the
    /// current phase and the latest announcement. The most requested per-player answer,
    /// so it is serialized straight from the game (see [`GameAnswer`]).
    pub fn answer_game(&self, viewer: Option<UserIdx>) -> GameAnswer<'_> {
        let policy = self.policy();
        let user = self.viewer(viewer);
        match user {
            None if !show_problems_to_guest(policy) => return GameAnswer::Refused(no_user()),
            Some(u) => {
                if let Err(e) = u.check_play_game() {
                    return GameAnswer::Refused(check_error(e));
                }
            }
            None => {}
        }
        let admin = self.viewer_is_admin(viewer);
        let tick = self.cur_tick;
        let challenge_list = (policy.can_view_problem || admin).then(|| {
            self.chall_order
                .iter()
                .map(|&ci| (ci, &self.challenges[ci as usize]))
                .filter(|(_, ch)| ch.effective_at(tick) || admin)
                .map(|(ci, ch)| GameChallenge {
                    key: &ch.row.key,
                    title: if ch.effective_at(tick) {
                        Cow::Borrowed(ch.row.title.as_str())
                    } else {
                        Cow::Owned(format!("{} [>={}]", ch.row.title, ch.row.effective_after))
                    },
                    category: &ch.row.category,
                    category_color: rules::category_color(&ch.row.category),
                    metadata: ch.describe_metadata(None, tick),
                    flags: ch
                        .flags
                        .iter()
                        .enumerate()
                        .map(|(fi, f)| GameFlag {
                            name: &f.spec.name,
                            base_score: f.spec.base_score,
                            cur_score: f.cur_score,
                            passed_users_count: f.passed_users.len(),
                            status: self.flag_status(
                                FlagRef {
                                    chall: ci,
                                    flag: fi as u32,
                                },
                                user,
                            ),
                        })
                        .collect(),
                    status: self.challenge_status(ci, user),
                    tot_base_score: ch.tot_base_score(),
                    tot_cur_score: ch.tot_cur_score(),
                    passed_users_count: ch.passed_users.len(),
                    touched_users_count: ch.touched_users.len(),
                })
                .collect()
        });
        let (user_info, trigger, last_announcement) = match (user, viewer) {
            (Some(u), Some(ui)) => {
                let board_key = rules::home_board(&u.row.group);
                (
                    Some(GameUserInfo {
                        tot_score: u.tot_score,
                        tot_score_by_cat: self.tot_score_by_cat(u),
                        board_key,
                        board_name: self.board(board_key).map_or("", |b| b.spec.name),
                        board_rank: self.rank_on(board_key, ui),
                    }),
                    Some(self.timeline.describe(tick)),
                    self.announcements.first().map_or(Value::Null, |a| {
                        a.describe(Some(&u.row.group), tick, &self.problem_log)
                    }),
                )
            }
            _ => (None, None, Value::Null),
        };
        GameAnswer::Game(GameView {
            error: (),
            challenge_list,
            user_info,
            cur_tick: tick,
            trigger,
            show_writeup: policy.can_submit_writeup && user.is_some(),
            last_announcement,
        })
    }

    /// `challenge/<key>`: the rendered description and visible actions.
    pub fn answer_challenge(&self, viewer: Option<UserIdx>, key: &str) -> Value {
        let Some(u) = self.viewer(viewer) else {
            return no_user();
        };
        if let Err(e) = u.check_play_game() {
            return check_error(e);
        }
        let admin = self.is_admin(u.id());
        if !self.policy().can_view_problem && !admin {
            return error_answer("NO_PERMISSION", "现在不允许查看题目");
        }
        let Some(ch) = self
            .challenge(key)
            .filter(|ch| ch.effective_at(self.cur_tick) || admin)
        else {
            return error_answer("NOT_FOUND", "题目不存在");
        };
        ok(json!({
            "desc": &*ch.render_desc(Some(&u.row.group), self.cur_tick, &self.problem_log),
            "actions": ch.describe_actions(self.cur_tick),
        }))
    }

    /// `get_touched_users/<key>`: everyone who passed a flag of the challenge.
    pub fn answer_touched_users(&self, viewer: Option<UserIdx>, key: &str) -> Value {
        let Some(u) = self.viewer(viewer) else {
            return no_user();
        };
        if let Err(e) = u.check_play_game() {
            return check_error(e);
        }
        let Some(ci) = self
            .chall_idx(key)
            .filter(|&ci| self.challenges[ci as usize].effective_at(self.cur_tick))
        else {
            return error_answer("NOT_FOUND", "题目不存在");
        };
        let admin = self.is_admin(u.id());
        let ch = &self.challenges[ci as usize];
        let mut rows: Vec<((i64, i64), Value)> = ch
            .touched_users
            .iter()
            .map(|&ti| {
                let t = &self.users[ti as usize];
                let mut score = 0;
                let mut last_ms = 0;
                let flags: Vec<Value> = (0..ch.flags.len() as u32)
                    .map(|fi| {
                        match t.passed(FlagRef {
                            chall: ci,
                            flag: fi,
                        }) {
                            Some(s) => {
                                let sub = &self.submissions[s as usize];
                                score += self.gained_score(sub);
                                last_ms = last_ms.max(sub.timestamp_ms);
                                json!(sub.timestamp_s())
                            }
                            None => Value::Null,
                        }
                    })
                    .collect();
                let item = json!({
                    "uid": t.id(),
                    "tot_score": t.tot_score,
                    "nickname": t.nickname().unwrap_or(""),
                    "group_disp": t.group_display(),
                    "badges": self.badges_for(t, admin),
                    "flags": flags,
                });
                ((-score, last_ms), item)
            })
            .collect();
        rows.sort_by_key(|(k, _)| *k);
        ok(json!({ "list": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>() }))
    }

    /// `board/<key>` (cached until something it shows changes).
    pub fn answer_board(&self, viewer: Option<UserIdx>, key: &str, now_s: i64) -> Arc<Value> {
        let Some(board) = self.board(key) else {
            return Arc::new(error_answer("NOT_FOUND", "排行榜不存在"));
        };
        let admin = self.viewer_is_admin(viewer);
        board.rendered(admin, || {
            let mut body = match board.spec.kind {
                BoardKind::Score {
                    category,
                    max_display_users,
                } => self.render_score_board(board, category, max_display_users, admin, now_s),
                BoardKind::FirstBlood => self.render_first_blood_board(board, admin),
            };
            body["type"] = json!(board.type_name());
            body["desc"] = json!(board.spec.desc);
            ok(body)
        })
    }

    fn render_score_board(
        &self,
        board: &Board,
        category: Option<&str>,
        max_users: usize,
        admin: bool,
        now_s: i64,
    ) -> Value {
        let tick = self.cur_tick;
        let in_board = |ci: u32| {
            let ch = &self.challenges[ci as usize];
            ch.effective_at(tick) && category.is_none_or(|c| ch.row.category == c)
        };
        let shown: Vec<u32> = self
            .chall_order
            .iter()
            .copied()
            .filter(|&ci| in_board(ci))
            .collect();
        let challenges: Vec<Value> = shown
            .iter()
            .map(|&ci| {
                let ch = &self.challenges[ci as usize];
                json!({
                    "key": ch.row.key,
                    "title": ch.row.title,
                    "category": ch.row.category,
                    "flags": ch.flags.iter().map(|f| f.spec.name.as_str()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let in_category = |f: &FlagRef| {
            category.is_none_or(|c| self.challenges[f.chall as usize].row.category == c)
        };
        let ranking = self.ranking(board);
        let list: Vec<Value> = ranking
            .entries
            .iter()
            .take(max_users)
            .enumerate()
            .map(|(idx, &(ui, score))| {
                let u = &self.users[ui as usize];
                let passed: Vec<&(FlagRef, u32)> = u.passed_flags.iter().filter(|(f, _)| in_category(f)).collect();
                let last = passed.last().map(|&&(_, s)| self.submissions[s as usize].timestamp_s());
                let mut challenge_status = Map::new();
                for &ci in &shown {
                    let status = self.challenge_status(ci, Some(u));
                    if status != "untouched" {
                        challenge_status.insert(self.challenges[ci as usize].row.key.clone(), json!(status));
                    }
                }
                let mut flag_status = Map::new();
                for &&(f, s) in &passed {
                    let sub: &Submission = &self.submissions[s as usize];
                    flag_status.insert(
                        format!("{}_{}", self.challenges[f.chall as usize].row.key, f.flag),
                        json!([sub.timestamp_s(), self.gained_score(sub)]),
                    );
                }
                json!({
                    "uid": u.id(),
                    "rank": idx + 1,
                    "nickname": u.nickname().unwrap_or("--"),
                    "group_disp": if board.spec.show_group { json!(u.group_display()) } else { Value::Null },
                    "badges": self.badges_for(u, admin),
                    "score": score,
                    "last_succ_submission_ts": last,
                    "challenge_status": challenge_status,
                    "flag_status": flag_status,
                })
            })
            .collect();
        let topstars: Vec<Value> = if category.is_some() {
            Vec::new()
        } else {
            ranking
                .entries
                .iter()
                .take(rules::MAX_TOPSTAR_USERS)
                .map(|&(ui, _)| self.topstar(ui))
                .collect()
        };
        json!({
            "challenges": challenges,
            "list": list,
            "topstars": topstars,
            "time_range": self.time_range(now_s),
        })
    }

    fn render_first_blood_board(&self, board: &Board, admin: bool) -> Value {
        let tick = self.cur_tick;
        let entry = |flag_name: Value, sub: Option<u32>| match sub {
            None => json!({
                "flag_name": flag_name, "uid": null, "nickname": null,
                "group_disp": null, "badges": null, "timestamp": null,
            }),
            Some(s) => {
                let sub = &self.submissions[s as usize];
                let u = &self.users[sub.user as usize];
                json!({
                    "flag_name": flag_name,
                    "uid": u.id(),
                    "nickname": u.nickname(),
                    "group_disp": if board.spec.show_group { json!(u.group_display()) } else { Value::Null },
                    "badges": self.badges_for(u, admin),
                    "timestamp": sub.timestamp_s(),
                })
            }
        };
        let fb = &board.first_bloods;
        let list: Vec<Value> = self
            .chall_order
            .iter()
            .copied()
            .filter(|&ci| self.challenges[ci as usize].effective_at(tick))
            .map(|ci| {
                let ch = &self.challenges[ci as usize];
                let mut flags = vec![entry(Value::Null, fb.challenges.get(&ci).copied())];
                if ch.flags.len() > 1 {
                    for (fi, f) in ch.flags.iter().enumerate() {
                        let r = FlagRef {
                            chall: ci,
                            flag: fi as u32,
                        };
                        flags.push(entry(json!(f.spec.name), fb.flags.get(&r).copied()));
                    }
                }
                json!({
                    "key": ch.row.key,
                    "title": ch.row.title,
                    "category": ch.row.category,
                    "category_color": rules::category_color(&ch.row.category),
                    "metadata": ch.describe_metadata(Some(board.spec.groups), tick),
                    "flags": flags,
                })
            })
            .collect();
        json!({ "list": list })
    }

    fn submission_item(&self, sub: &Submission, with_overrides: bool) -> Option<Value> {
        let ch = &self.challenges[self.submission_challenge(sub)? as usize];
        let mut item = json!({
            "challenge_key": ch.row.key,
            "challenge_title": ch.row.title,
            "category": ch.row.category,
            "category_color": rules::category_color(&ch.row.category),
            "matched_flag": sub.matched.map(|f| self.flag(f).spec.name.clone()),
            "gained_score": self.gained_score(sub),
            "timestamp_s": sub.timestamp_s(),
        });
        if with_overrides {
            let mut overrides = Vec::new();
            if sub.duplicate {
                overrides.push("重复提交".to_owned());
            }
            if let Some(s) = sub.score_override() {
                overrides.push(format!("分数 = {s}"));
            } else if let Some(p) = sub.percentage_override() {
                overrides.push(format!("分数 * {p}%"));
            }
            item["overrides"] = json!(overrides);
        }
        Some(item)
    }

    fn submissions_answer(
        &self,
        ui: UserIdx,
        subs: impl Iterator<Item = u32>,
        with_overrides: bool,
        now_s: i64,
    ) -> Value {
        let u = &self.users[ui as usize];
        let list: Vec<Value> = subs
            .filter_map(|s| self.submission_item(&self.submissions[s as usize], with_overrides))
            .collect();
        ok(json!({
            "list": list,
            "topstars": [self.topstar(ui)],
            "time_range": self.time_range(now_s),
            "tot_score_by_cat": self.tot_score_by_cat(u),
        }))
    }

    /// `my_submissions`: every submission of the viewer, newest first.
    pub fn answer_my_submissions(&self, viewer: Option<UserIdx>, now_s: i64) -> Value {
        let (Some(ui), Some(u)) = (viewer, self.viewer(viewer)) else {
            return no_user();
        };
        if let Err(e) = u.check_play_game() {
            return check_error(e);
        }
        self.submissions_answer(ui, self.submissions_newest_first(ui), true, now_s)
    }

    /// `submissions/<uid>`: another user's successful submissions, newest first.
    pub fn answer_submissions_of(&self, uid: i64, now_s: i64) -> Value {
        let found = self
            .user_idx(uid)
            .filter(|&ui| !self.users[ui as usize].passed_flags.is_empty());
        let Some(ui) = found else {
            return error_answer("NO_USER", "用户不存在或未答出任何题目");
        };
        let u = &self.users[ui as usize];
        self.submissions_answer(
            ui,
            u.passed_flags.iter().rev().map(|&(_, s)| s),
            false,
            now_s,
        )
    }
}

/// The `game` answer: a refusal, or the game as the viewer sees it. It borrows the game
/// and serializes with the same keys, in the same order, as the other answers' JSON
/// objects, without building a JSON tree first.
#[derive(Debug, Serialize)]
#[serde(untagged)]
// Built once per request and serialized at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum GameAnswer<'g> {
    /// `{"error": code, "error_msg": message}`.
    Refused(Value),
    /// `{"error": null, ...}`.
    Game(GameView<'g>),
}

/// The successful `game` answer.
#[derive(Debug, Serialize)]
pub struct GameView<'g> {
    /// `"error": null`.
    pub error: (),
    /// The visible challenges in the game's order (`None`: not visible now).
    pub challenge_list: Option<Vec<GameChallenge<'g>>>,
    /// The viewer's score line (`None` for guests).
    pub user_info: Option<GameUserInfo<'g>>,
    /// The current tick.
    pub cur_tick: i64,
    /// The current phase and the next trigger (`None` for guests).
    pub trigger: Option<TickDescription>,
    /// Whether the viewer may upload a writeup.
    pub show_writeup: bool,
    /// The newest announcement as the viewer sees it (`null` if none or a guest).
    pub last_announcement: Value,
}

/// One challenge of the `game` answer.
#[derive(Debug, Serialize)]
pub struct GameChallenge<'g> {
    /// The challenge's key.
    pub key: &'g str,
    /// Its title (admins see `[>=tick]` after one not open yet).
    pub title: Cow<'g, str>,
    /// Its category.
    pub category: &'g str,
    /// The category's colour.
    pub category_color: &'static str,
    /// `first_blood_award_eligible` and `author`.
    pub metadata: Value,
    /// Its flags.
    pub flags: Vec<GameFlag<'g>>,
    /// The viewer's status: passed / partial / untouched, plus `-deducted`.
    pub status: String,
    /// The sum of its flags' base scores.
    pub tot_base_score: i64,
    /// The sum of its flags' current scores.
    pub tot_cur_score: i64,
    /// Players who passed every flag.
    pub passed_users_count: usize,
    /// Players who passed any flag.
    pub touched_users_count: usize,
}

/// One flag of a challenge in the `game` answer.
#[derive(Debug, Serialize)]
pub struct GameFlag<'g> {
    /// The flag's name.
    pub name: &'g str,
    /// Its base score.
    pub base_score: i64,
    /// Its current score.
    pub cur_score: i64,
    /// Players who passed it.
    pub passed_users_count: usize,
    /// The viewer's status: passed / untouched, plus `-deducted`.
    pub status: String,
}

/// The viewer's score line in the `game` answer.
#[derive(Debug, Serialize)]
pub struct GameUserInfo<'g> {
    /// The viewer's total score.
    pub tot_score: i64,
    /// `[[category, score], ...]`, `null` before the first score.
    pub tot_score_by_cat: Value,
    /// The viewer's home board.
    pub board_key: &'static str,
    /// Its name.
    pub board_name: &'g str,
    /// The viewer's rank on it (1-based; `None` when not ranked).
    pub board_rank: Option<usize>,
}

/// The `game_info` answer (borrowing the game, serialized in the reference's key order).
#[derive(Debug, Serialize)]
pub struct GameInfoAnswer<'g> {
    error: (),
    user: Option<GameInfoUser<'g>>,
    feature: Features,
    cur_tick: i64,
    diag_ts: i64,
}

/// The logged-in user in `game_info`.
#[derive(Debug, Serialize)]
struct GameInfoUser<'g> {
    id: i64,
    login_key: &'g str,
    group: &'g str,
    group_disp: String,
    badges: &'g [String],
    token: Option<&'g str>,
    profile: ProfileView<'g>,
    terms_agreed: bool,
}

/// The feature switches in `game_info`.
#[derive(Debug, Serialize)]
struct Features {
    push: bool,
    game: bool,
    submit_flag: bool,
    templates: TemplateList,
}

/// A user's profile fields of their group, `""` for unset ones, as a JSON object.
#[derive(Debug)]
struct ProfileView<'g>(&'g User);

impl Serialize for ProfileView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let u = self.0;
        let fields = rules::profile_fields(&u.row.group);
        let mut map = s.serialize_map(Some(fields.len()))?;
        for &f in fields {
            map.serialize_entry(f.name(), u.profile_value(f).unwrap_or(""))?;
        }
        map.end()
    }
}

/// The site templates open at a tick, as `[[key, title], ...]`.
#[derive(Debug)]
struct TemplateList(i64);

impl Serialize for TemplateList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            rules::SITE_TEMPLATES
                .iter()
                .filter(|(_, _, tick)| self.0 >= *tick)
                .map(|(key, title, _)| [key, title]),
        )
    }
}
