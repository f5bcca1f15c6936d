//! Users: the stored row, the current profile, badges and the state checks
//! (login → update profile → play → submit writeup), plus each user's scoring state.

use super::challenge::UserIdx;
use super::profile;
use crate::rows::{UserProfileRow, UserRow};
use crate::rules;
use crate::rules::ProfileField;

/// A flag identified by its challenge's index in the game and its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlagRef {
    /// Index of the challenge in the game's challenge arena.
    pub chall: u32,
    /// Position of the flag in the challenge.
    pub flag: u32,
}

/// Index of a submission in the game's submission list.
pub type SubIdx = u32;

/// An error answer: `(code, message)` as the frontend shows them.
pub type CheckError = (&'static str, &'static str);

/// A user and their scoring state.
#[derive(Debug, Clone)]
pub struct User {
    /// The stored row.
    pub row: UserRow,
    /// The latest profile, when the user has one.
    pub profile: Option<UserProfileRow>,
    /// Badges shown to everyone.
    pub badges: Vec<String>,
    /// Extra badges shown to admins (`U#id`, `remark:...`).
    pub admin_badges: Vec<String>,
    /// The latest submission (the chain continues through `Submission::prev_of_user`).
    pub last_submission: Option<SubIdx>,
    /// Passed flags and their passing submissions, in passing order.
    pub passed_flags: Vec<(FlagRef, SubIdx)>,
    /// Challenges whose every flag is passed, with the completing submission.
    pub passed_challs: Vec<(u32, SubIdx)>,
    /// Total gained score.
    pub tot_score: i64,
    /// Gained score per category, in the order categories were first scored.
    pub tot_score_by_cat: Vec<(String, i64)>,
    /// Passing submission per flag slot (see `Game::user_passed`), `SubIdx::MAX` if none.
    pub passed_slots: Vec<SubIdx>,
    /// Correct flag values derived so far (they never change while the challenge does not).
    pub correct_flags: Vec<(FlagRef, Box<str>)>,
    /// Why the profile is incomplete or invalid, checked when the row or profile changes
    /// (`refresh`): every request of a player asks, and the check measures text widths.
    profile_problem: Option<String>,
}

impl User {
    /// Wraps a row and its current profile, computing badges.
    pub fn new(row: UserRow, profile: Option<UserProfileRow>) -> User {
        let mut user = User {
            row,
            profile,
            badges: Vec::new(),
            admin_badges: Vec::new(),
            last_submission: None,
            passed_flags: Vec::new(),
            passed_challs: Vec::new(),
            tot_score: 0,
            tot_score_by_cat: Vec::new(),
            correct_flags: Vec::new(),
            passed_slots: Vec::new(),
            profile_problem: None,
        };
        user.refresh();
        user
    }

    /// Recomputes what follows from the row and profile (badges, the profile check) after
    /// either changed.
    pub fn refresh(&mut self) {
        self.profile_problem = profile::check_profile(&self.row.group, &self.row.login_key, |f| {
            self.profile_value(f)
        })
        .err();
        let stuid = self.profile.as_ref().and_then(|p| p.stuid.as_deref());
        self.badges =
            profile::badges::login_badges(&self.row.group, &self.row.login_properties, stuid);
        self.admin_badges = profile::badges::admin_badges(
            self.row.id,
            &self.row.login_key,
            &self.row.login_properties,
            stuid,
        );
    }

    /// Back to the state before any submission.
    pub fn reset_scores(&mut self) {
        self.last_submission = None;
        self.passed_flags.clear();
        self.passed_slots.clear();
        self.passed_challs.clear();
        self.tot_score = 0;
        self.tot_score_by_cat.clear();
    }

    /// The user's id.
    pub fn id(&self) -> i64 {
        self.row.id
    }

    /// The passing submission of `flag`, if the user passed it.
    pub fn passed(&self, flag: FlagRef) -> Option<SubIdx> {
        self.passed_flags
            .iter()
            .find(|(f, _)| *f == flag)
            .map(|(_, s)| *s)
    }

    /// The nickname, when the profile has one (empty counts as none, as in Python).
    pub fn nickname(&self) -> Option<&str> {
        self.profile
            .as_ref()
            .and_then(|p| p.nickname.as_deref())
            .filter(|n| !n.is_empty())
    }

    /// Name of the user's group as players see it.
    pub fn group_display(&self) -> String {
        rules::group_display(&self.row.group)
    }

    /// The value of one profile field, when set.
    pub fn profile_value(&self, field: ProfileField) -> Option<&str> {
        self.profile.as_ref()?.field(field)
    }

    /// Adds `delta` to the total and to `category`'s total (appending a new category).
    pub fn add_score(&mut self, category: &str, delta: i64) {
        self.tot_score += delta;
        match self
            .tot_score_by_cat
            .iter_mut()
            .find(|(c, _)| c == category)
        {
            Some((_, s)) => *s += delta,
            None => self.tot_score_by_cat.push((category.to_owned(), delta)),
        }
    }

    /// The account may log in.
    pub fn check_login(&self) -> Result<(), CheckError> {
        if self.row.enabled {
            Ok(())
        } else {
            Err(("USER_DISABLED", "账号不允许登录"))
        }
    }

    /// The user may edit their profile.
    pub fn check_update_profile(&self) -> Result<(), CheckError> {
        self.check_login()?;
        if !self.row.terms_agreed {
            return Err(("SHOULD_AGREE_TERMS", "请阅读参赛须知"));
        }
        if self.row.group == rules::BANNED_GROUP {
            return Err(("USER_BANNED", "此用户组被禁止参赛"));
        }
        Ok(())
    }

    /// Why the profile is incomplete or invalid for the user's group, if it is.
    pub fn profile_problem(&self) -> Option<&str> {
        self.profile_problem.as_deref()
    }

    /// The user may play.
    pub fn check_play_game(&self) -> Result<(), CheckError> {
        self.check_update_profile()?;
        if self.profile_problem().is_some() {
            return Err(("SHOULD_UPDATE_PROFILE", "请完善个人资料"));
        }
        Ok(())
    }

    /// The user may submit a writeup.
    pub fn check_submit_writeup(&self) -> Result<(), CheckError> {
        self.check_play_game()?;
        if self.passed_flags.is_empty() {
            return Err((
                "NO_PASSED_FLAGS",
                "此账号没有通过任何题目，无法提交 Writeup",
            ));
        }
        Ok(())
    }
}

/// Index of a user, as stored in scoring state.
pub fn idx(i: usize) -> UserIdx {
    i as UserIdx
}
