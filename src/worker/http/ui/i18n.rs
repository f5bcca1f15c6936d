//! The player UI's two languages: every text of the pages in Chinese (the reference's
//! wording) and English, and the choice from the `lang` cookie or `Accept-Language`.

use std::collections::BTreeMap;

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Simplified Chinese (the reference's texts).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The code used in the cookie and the `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The language named by a cookie value.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The cookie's choice, else the first of `Accept-Language` (by q) the UI speaks,
    /// else Chinese (the reference's default).
    pub fn choose(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_code) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag.starts_with("zh") {
                Lang::Zh
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Zh, |(_, l)| l)
    }
}

/// Every text: key, Chinese, English.
const TEXTS: &[(&str, &str, &str)] = &[
    ("lang_switch", "English", "中文"),
    ("skip", "跳到正文", "Skip to content"),
    ("nav_game", "比赛", "Game"),
    ("nav_board", "排行榜", "Boards"),
    ("nav_submissions", "我的提交", "My submissions"),
    ("nav_writeup", "Writeup", "Writeup"),
    ("nav_profile", "个人资料", "Profile"),
    ("nav_login", "登录", "Log in"),
    ("nav_logout", "注销", "Log out"),
    ("nav_admin", "管理后台", "Admin"),
    ("theme", "深色/浅色", "Dark/light"),
    ("login_title", "登录", "Log in"),
    ("login_providers", "使用以下方式登录", "Log in with"),
    ("login_manual", "手动登录（测试用）", "Manual login (for testing)"),
    ("login_identity", "用户名", "User name"),
    ("login_submit", "登录", "Log in"),
    ("login_none", "目前没有可用的登录方式", "No login method is enabled"),
    ("provider_github", "GitHub", "GitHub"),
    ("provider_microsoft", "Microsoft 账号", "Microsoft account"),
    ("provider_carsi", "CARSI 校园身份", "CARSI campus identity"),
    ("provider_iaaa", "北京大学统一身份认证", "Peking University IAAA"),
    ("provider_oidc", "统一身份认证", "Single sign-on"),
    ("terms_title", "参赛须知", "Contest terms"),
    ("terms_body", "参赛即表示你同意：独立完成比赛，不与他人交流解题思路或 Flag；不攻击比赛平台与其他选手；不在比赛结束前公开题解。违反规则的账号将被封禁，成绩作废。", "By taking part you agree to: solve the challenges on your own, without sharing ideas or flags; not attack the platform or other players; not publish solutions before the contest ends. Accounts that break the rules are banned and their scores void."),
    ("terms_agree", "我已阅读并同意", "I have read and agree"),
    ("terms_agreed", "你已同意参赛须知。", "You have agreed to the terms."),
    ("profile_title", "个人资料", "Profile"),
    ("profile_intro", "比赛前请完善个人资料。昵称会显示在排行榜上。", "Complete your profile before playing. Your nickname is shown on the boards."),
    ("profile_cooldown", "每次修改资料后需等待 10 秒才能再次修改。", "After each change you must wait 10 seconds before changing your profile again."),
    ("profile_wait", "距离下次可修改还有", "You can change it again in"),
    ("profile_save", "保存", "Save"),
    ("profile_saved", "已保存", "Saved"),
    ("profile_group", "用户组", "Group"),
    ("field_nickname", "昵称", "Nickname"),
    ("field_qq", "QQ号", "QQ number"),
    ("field_tel", "电话号码", "Telephone"),
    ("field_email", "清华邮箱", "Tsinghua e-mail"),
    ("field_stuid", "学号", "Student id"),
    ("field_comment", "了解比赛的渠道", "How you heard of the contest"),
    ("hint_nickname", "最长 40 个单位宽度，中文与大写字母计 2", "At most 40 width units; CJK and capitals count 2"),
    ("game_title", "比赛", "Game"),
    ("phase", "当前阶段", "Current phase"),
    ("next_phase", "下一阶段", "Next phase"),
    ("countdown", "倒计时", "Starts in"),
    ("my_score", "我的总分", "My score"),
    ("my_rank", "排名", "Rank"),
    ("no_rank", "未上榜", "not ranked"),
    ("announcements", "公告", "Announcements"),
    ("all_announcements", "全部公告", "All announcements"),
    ("challenges", "题目", "Challenges"),
    ("no_challenges", "现在不允许查看题目", "Challenges are not visible now"),
    ("solved_by", "人通过", "solved"),
    ("points", "分", "pts"),
    ("status_passed", "已通过", "solved"),
    ("status_partial", "部分通过", "partly solved"),
    ("status_untouched", "未通过", "unsolved"),
    ("status_deducted", "（分数已扣减）", "(score deducted)"),
    ("challenge", "题目", "Challenge"),
    ("category", "分类", "Category"),
    ("flags", "Flag", "Flags"),
    ("score", "分数", "Score"),
    ("actions", "题目资源", "Resources"),
    ("download", "下载", "Download"),
    ("open", "打开", "Open"),
    ("token", "你的 Token", "Your token"),
    ("terminal_hint", "在终端中连接：", "Connect from a terminal:"),
    ("submit_flag", "提交 Flag", "Submit flag"),
    ("flag_label", "Flag", "Flag"),
    ("flag_submit", "提交", "Submit"),
    ("flag_correct", "答案正确", "Correct!"),
    ("feedback", "反馈", "Feedback"),
    ("feedback_intro", "对题目有疑问？向出题人反馈（每小时一次，最多 1200 字）。", "A question about this challenge? Tell the authors (once an hour, at most 1,200 characters)."),
    ("feedback_label", "反馈内容", "Your message"),
    ("feedback_submit", "发送反馈", "Send feedback"),
    ("feedback_sent", "反馈已发送", "Feedback sent"),
    ("touched_users", "通过此题的选手", "Players who solved flags of this challenge"),
    ("show_touched", "查看", "Show"),
    ("nobody", "暂无", "Nobody yet"),
    ("board_title", "排行榜", "Boards"),
    ("rank", "排名", "Rank"),
    ("nickname", "昵称", "Nickname"),
    ("group", "组别", "Group"),
    ("last_solve", "最后通过时间", "Last solve"),
    ("search", "搜索昵称", "Search nicknames"),
    ("search_submit", "搜索", "Search"),
    ("prev", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("page", "页", "page"),
    ("chart_title", "前 10 名分数变化", "Score history of the top 10"),
    ("first_blood", "一血", "First blood"),
    ("whole_challenge", "全部 Flag", "Whole challenge"),
    ("time", "时间", "Time"),
    ("submissions_title", "我的提交", "My submissions"),
    ("user_title", "选手提交记录", "Player's solves"),
    ("flag_matched", "匹配的 Flag", "Matched flag"),
    ("wrong", "错误", "wrong"),
    ("gained", "得分", "Gained"),
    ("overrides", "备注", "Notes"),
    ("none", "暂无记录", "Nothing yet"),
    ("writeup_title", "提交 Writeup", "Upload a writeup"),
    ("writeup_intro", "上传解题报告（单个文件，建议 PDF 或压缩包）。", "Upload your write-up (one file: a PDF or an archive)."),
    ("writeup_required", "你需要提交 Writeup 才能参与评奖。", "You must upload a writeup to be eligible for prizes."),
    ("writeup_current", "当前已提交", "Current upload"),
    ("writeup_file", "文件", "File"),
    ("writeup_max", "大小上限", "Size limit"),
    ("writeup_publish", "是否同意公开", "May we publish it?"),
    ("publish_Always-Yes", "同意公开", "Yes, publish it"),
    ("publish_Always-No", "不公开", "No, keep it private"),
    ("publish_Maybe", "由工作人员决定", "Let the staff decide"),
    ("writeup_rights", "授权协议", "License"),
    ("rights_CC0", "CC0（放弃版权）", "CC0 (public domain)"),
    ("rights_CC-BY-NC", "CC BY-NC（署名-非商业）", "CC BY-NC (attribution, non-commercial)"),
    ("rights_All-Rights-Reserved", "保留所有权利", "All rights reserved"),
    ("writeup_submit", "上传", "Upload"),
    ("writeup_done", "上传成功", "Uploaded"),
    ("writeup_size", "大小", "Size"),
    ("error_title", "出错了", "Something went wrong"),
    ("back_home", "返回首页", "Back to the game"),
    ("not_found", "页面不存在", "Page not found"),
    ("no_game", "服务暂时不可用，正在同步比赛数据，请稍后刷新", "The service is resynchronizing; please reload in a moment"),
    ("live_connected", "实时通知已连接", "Live notifications on"),
    ("push_announcement", "新公告", "New announcement"),
    ("push_tick", "比赛进入新阶段", "The contest entered a new phase"),
    ("push_first_blood", "一血", "First blood"),
    ("push_reload", "你的账户已更新", "Your account changed"),
    ("close", "关闭", "Close"),
    ("sending", "正在提交…", "Sending…"),
    ("network_error", "网络错误，请重试", "Network error, please retry"),
    ("faq", "选手常见问题", "FAQ"),
];

/// The texts the page script needs (notifications and form states).
pub const SCRIPT_TEXTS: &[&str] = &[
    "push_announcement",
    "push_tick",
    "push_first_blood",
    "push_reload",
    "close",
    "sending",
    "network_error",
];

/// One text in `lang` (the key itself when unknown).
pub fn text(lang: Lang, key: &'static str) -> &'static str {
    TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, zh, en)| if lang == Lang::Zh { zh } else { en })
}

/// The texts of one language as a template value (built once; cheap to clone).
pub fn texts(lang: Lang) -> minijinja::Value {
    let map: BTreeMap<&str, &str> = TEXTS
        .iter()
        .map(|(k, zh, en)| (*k, if lang == Lang::Zh { *zh } else { *en }))
        .collect();
    minijinja::Value::from(minijinja::value::Serde(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_wins_then_accept_language_by_quality() {
        assert_eq!(Lang::choose(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::choose(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::choose(None, Some("fr;q=1, en;q=0.5, zh-CN;q=0.8")),
            Lang::Zh
        );
        assert_eq!(Lang::choose(Some("xx"), Some("de")), Lang::Zh);
        assert_eq!(Lang::choose(None, None), Lang::Zh);
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = TEXTS.iter().map(|t| t.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }
}
