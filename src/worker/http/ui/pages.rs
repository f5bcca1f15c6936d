//! The UI's page handlers: each reads what it shows from the game in one read (through
//! the same `Game::answer_*` functions as the wish endpoints) and renders a template.

use super::super::reply::{redirect, SetCookie};
use super::super::request::viewer;
use super::super::HttpState;
use super::{chart, Lang, Visit};
use crate::clock::{now_ms, now_s};
use crate::rules;
use crate::rules::ProfileField;
use crate::state::challenge::UserIdx;
use crate::state::profile::check_field;
use crate::state::Game;
use crate::web::urlencode;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use minijinja::{context, Value as Tv};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Rows per page of a long board.
pub const BOARD_PAGE_SIZE: usize = 50;

fn tv(v: &Value) -> Tv {
    Tv::from(minijinja::value::Serde(v))
}

/// The logged-in player as the page frame shows them.
fn frame_user(g: &Game, v: Option<UserIdx>) -> Value {
    let Some(ui) = v else { return Value::Null };
    let u = &g.users[ui as usize];
    json!({
        "id": u.id(),
        "nickname": u.nickname().unwrap_or(""),
        "group": u.row.group,
        "group_disp": u.group_display(),
        "admin": g.is_admin(u.id()),
        "terms_agreed": u.row.terms_agreed,
        "can_play": u.check_play_game().is_ok(),
        "show_writeup": g.policy().can_submit_writeup,
    })
}

/// English texts of the API's error codes (`{n}`: the number in the Chinese message).
pub const ENGLISH_ERRORS: &[(&str, &str)] = &[
    ("NO_USER", "You are not logged in"),
    (
        "NO_GAME",
        "The service is resynchronizing; please reload in a moment",
    ),
    ("USER_DISABLED", "This account may not log in"),
    (
        "SHOULD_AGREE_TERMS",
        "Please read and accept the contest terms",
    ),
    ("USER_BANNED", "This group is banned from the contest"),
    ("SHOULD_UPDATE_PROFILE", "Please complete your profile"),
    (
        "NO_PASSED_FLAGS",
        "This account solved no flag and cannot upload a writeup",
    ),
    ("NOT_FOUND", "Not found"),
    ("RATE_LIMIT", "Too many attempts; wait {n} seconds"),
    ("POLICY_ERROR", "This is not allowed at the moment"),
    ("NO_PERMISSION", "Challenges are not visible now"),
    ("FILE_TOO_LARGE", "The writeup file is too large"),
    ("CONTENT_LEN", "The feedback is too long"),
    ("FLAG_LEN", "The flag is too long"),
    ("FLAG_PATTERN", "A flag looks like flag{...}"),
    ("INVALID_ARGUMENT", "Invalid input"),
    ("NO_USER_SUBMISSIONS", "Unknown player, or no solves yet"),
];

/// English texts of the reducer's refusals (answered as REDUCER_ERROR with these texts).
pub const ENGLISH_REDUCER_MESSAGES: &[(&str, &str)] = &[
    ("Flag错误", "Wrong flag"),
    ("已经提交过此Flag", "You have already submitted this flag"),
    ("请求太频繁", "Too many requests; slow down"),
    ("challenge not found", "Challenge not found"),
    ("user not found", "User not found"),
    (
        "操作已提交，但结果尚未同步，请稍后刷新页面",
        "Sent, but not yet synchronized; reload in a moment",
    ),
    (
        "服务暂时不可用，请稍后重试",
        "The service is unavailable; please retry",
    ),
];

/// The `game` answer as a JSON value (the page groups and looks up its challenges).
fn game_value(g: &Game, v: Option<UserIdx>) -> Value {
    serde_json::to_value(g.answer_game(v)).unwrap_or(Value::Null)
}

/// A readable message for an API error code, in the page's language.
pub fn error_text(lang: Lang, code: &str, msg: &str) -> String {
    if code == "NO_GAME" && lang == Lang::Zh {
        return "服务暂时不可用，正在同步比赛数据，请稍后刷新".to_owned();
    }
    if lang == Lang::En && code == "REDUCER_ERROR" {
        if let Some((_, en)) = ENGLISH_REDUCER_MESSAGES.iter().find(|(zh, _)| *zh == msg) {
            return (*en).to_owned();
        }
    }
    let english = ENGLISH_ERRORS.iter().find(|(c, _)| *c == code);
    match (lang, english) {
        (Lang::En, Some((_, text))) => {
            let number: String = msg
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            text.replace("{n}", &number)
        }
        _ => msg.to_owned(),
    }
}

fn error_page(
    st: &HttpState,
    visit: &Visit,
    status: StatusCode,
    code: &str,
    msg: &str,
    user: &Value,
) -> Response {
    let text = error_text(visit.lang, code, msg);
    st.ui.render_status(
        status,
        visit,
        "error.html",
        context! { message => text, code => code, user => tv(user) },
    )
}

fn no_game_page(st: &HttpState, visit: &Visit) -> Response {
    error_page(
        st,
        visit,
        StatusCode::SERVICE_UNAVAILABLE,
        "NO_GAME",
        "",
        &Value::Null,
    )
}

/// Where a refused player should go instead: login, terms or profile; else an error page.
fn refused(st: &HttpState, visit: &Visit, answer: &Value, user: &Value) -> Response {
    let code = answer["error"].as_str().unwrap_or("");
    match code {
        "NO_USER" => redirect("/login"),
        "SHOULD_AGREE_TERMS" => redirect("/terms"),
        "SHOULD_UPDATE_PROFILE" => redirect("/profile"),
        _ => error_page(
            st,
            visit,
            if code == "NOT_FOUND" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::FORBIDDEN
            },
            code,
            answer["error_msg"].as_str().unwrap_or(""),
            user,
        ),
    }
}

fn failed(answer: &Value) -> bool {
    !answer["error"].is_null()
}

/// Challenges grouped by category, in the game's order.
fn by_category(list: &Value) -> Value {
    let mut groups: Vec<(String, String, Vec<Value>)> = Vec::new();
    for ch in list.as_array().into_iter().flatten() {
        let cat = ch["category"].as_str().unwrap_or("").to_owned();
        match groups.iter_mut().find(|(c, _, _)| *c == cat) {
            Some((_, _, l)) => l.push(ch.clone()),
            None => groups.push((
                cat,
                ch["category_color"].as_str().unwrap_or("").to_owned(),
                vec![ch.clone()],
            )),
        }
    }
    Value::Array(
        groups
            .into_iter()
            .map(|(c, color, l)| json!({"category": c, "color": color, "challenges": l}))
            .collect(),
    )
}

/// `GET /`: the game page.
pub(super) async fn game(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let Some((user, game, announcements, triggers)) = st.shared.read(|g| {
        let v = viewer(g, token);
        (
            frame_user(g, v),
            game_value(g, v),
            g.answer_announcements(v),
            g.answer_triggers(),
        )
    }) else {
        return no_game_page(&st, &visit);
    };
    if failed(&game) {
        return refused(&st, &visit, &game, &user);
    }
    let categories = by_category(&game["challenge_list"]);
    let push = user["can_play"].as_bool().unwrap_or(false);
    st.ui.render(
        &visit,
        "game.html",
        context! {
            user => tv(&user),
            game => tv(&game),
            categories => tv(&categories),
            announcements => tv(&announcements["list"]),
            triggers => tv(&triggers["list"]),
            push => push,
        },
    )
}

/// `GET /login`: manual login where enabled and a button per provider.
pub(super) async fn login(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let user = st
        .shared
        .read(|g| frame_user(g, viewer(g, token)))
        .unwrap_or(Value::Null);
    let providers: Vec<Value> = st
        .ui
        .providers
        .iter()
        .map(|(name, start)| json!({"name": name, "url": start}))
        .collect();
    st.ui.render(
        &visit,
        "login.html",
        context! {
            user => tv(&user),
            providers => tv(&json!(providers)),
            manual => st.ui.manual_login,
        },
    )
}

/// `GET /terms`: the terms to accept.
pub(super) async fn terms(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let Some(user) = st.shared.read(|g| frame_user(g, viewer(g, token))) else {
        return no_game_page(&st, &visit);
    };
    if user.is_null() {
        return redirect("/login");
    }
    st.ui
        .render(&visit, "terms.html", context! { user => tv(&user) })
}

fn field_texts(field: ProfileField) -> (&'static str, &'static str, &'static str) {
    // (input type, autocomplete, inputmode)
    match field {
        ProfileField::Nickname => ("text", "nickname", "text"),
        ProfileField::Qq => ("text", "off", "numeric"),
        ProfileField::Tel => ("tel", "tel", "tel"),
        ProfileField::Email => ("email", "email", "email"),
        ProfileField::Stuid => ("text", "off", "numeric"),
        ProfileField::Comment => ("text", "off", "text"),
    }
}

/// `GET /profile`: the group's fields with their current values and the cooldown.
pub(super) async fn profile(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let now = now_ms();
    let Some(read) = st.shared.read(|g| {
        let v = viewer(g, token);
        let user = frame_user(g, v);
        let info =
            serde_json::to_value(g.answer_game_info(v, false, now / 1000)).unwrap_or(Value::Null);
        let wait_s = v.and_then(|ui| {
            let p = g.users[ui as usize].profile.as_ref()?;
            let left = rules::PROFILE_COOLDOWN_S - (now - p.timestamp_ms) as f64 / 1000.0;
            (left > 0.0).then(|| left.ceil() as i64)
        });
        let check = v.map(|ui| g.users[ui as usize].check_update_profile());
        (user, info, wait_s, check)
    }) else {
        return no_game_page(&st, &visit);
    };
    let (user, info, wait_s, check) = read;
    let Some(check) = check else {
        return redirect("/login");
    };
    if let Err((code, msg)) = check {
        if code == "SHOULD_AGREE_TERMS" {
            return redirect("/terms");
        }
        return error_page(&st, &visit, StatusCode::FORBIDDEN, code, msg, &user);
    }
    let group = user["group"].as_str().unwrap_or("");
    let fields: Vec<Value> = rules::profile_fields(group)
        .iter()
        .map(|&f| {
            let (input, autocomplete, mode) = field_texts(f);
            json!({
                "name": f.name(),
                "value": info["user"]["profile"][f.name()],
                "type": input,
                "autocomplete": autocomplete,
                "inputmode": mode,
            })
        })
        .collect();
    st.ui.render(
        &visit,
        "profile.html",
        context! {
            user => tv(&user),
            fields => tv(&json!(fields)),
            wait_s => wait_s,
            cooldown_s => rules::PROFILE_COOLDOWN_S,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct ProfileCheckBody {
    profile: BTreeMap<String, String>,
}

/// `POST /ui/profile_check`: each field's validation message (the profile rules of
/// `state::profile`), so that the form shows every error next to its field before the
/// page sends the profile to `/service/wish/update_profile`.
pub(super) async fn profile_check(
    State(st): State<Arc<HttpState>>,
    visit: Visit,
    Json(body): Json<ProfileCheckBody>,
) -> Response {
    let token = visit.auth_token.as_deref();
    let Some(login) = st.shared.read(|g| {
        viewer(g, token).map(|ui| {
            let u = &g.users[ui as usize];
            (u.row.group.clone(), u.row.login_key.clone())
        })
    }) else {
        return Json(json!({"error": "NO_GAME"})).into_response();
    };
    let Some((group, login_key)) = login else {
        return Json(json!({"error": "NO_USER"})).into_response();
    };
    let mut errors = Map::new();
    for &field in rules::profile_fields(&group) {
        let value = body.profile.get(field.name()).map_or("", String::as_str);
        if let Err(msg) = check_field(field, value, &login_key) {
            let shown = if visit.lang == Lang::En {
                english_field_error(field, &msg)
            } else {
                msg
            };
            errors.insert(field.name().to_owned(), json!(shown));
        }
    }
    Json(json!({"error": null, "errors": errors})).into_response()
}

fn english_field_error(field: ProfileField, msg: &str) -> String {
    match field {
        ProfileField::Nickname if msg.contains("太长") => {
            let n: String = msg.chars().filter(char::is_ascii_digit).collect();
            format!("Too wide ({n} units; at most 40)")
        }
        ProfileField::Nickname if msg.contains("空格") => "Not only spaces".into(),
        ProfileField::Nickname if msg.contains("字符") => {
            format!(
                "Contains a character that is not allowed ({})",
                msg.rsplit(' ').next().unwrap_or("")
            )
        }
        ProfileField::Nickname => "1 to 120 characters on one line".into(),
        ProfileField::Qq => "5 to 50 characters".into(),
        ProfileField::Tel => "5 to 20 characters".into(),
        ProfileField::Email => {
            "A Tsinghua address (@tsinghua.edu.cn or @mails.tsinghua.edu.cn)".into()
        }
        ProfileField::Stuid if msg.contains("不符") => "Does not match your login".into(),
        ProfileField::Stuid if msg.contains("无法") => "Cannot be verified for this login".into(),
        ProfileField::Stuid => "A student id has 10 digits".into(),
        ProfileField::Comment => "At most 100 characters on one line".into(),
    }
}

/// `GET /challenge/<key>`: description, actions, flags, forms and who solved it.
pub(super) async fn challenge(
    State(st): State<Arc<HttpState>>,
    visit: Visit,
    Path(key): Path<String>,
) -> Response {
    let token = visit.auth_token.as_deref();
    let Some((user, detail, game, touched, token_value, can_submit)) = st.shared.read(|g| {
        let v = viewer(g, token);
        let token_value = v.and_then(|ui| g.users[ui as usize].row.token.clone());
        (
            frame_user(g, v),
            g.answer_challenge(v, &key),
            game_value(g, v),
            g.answer_touched_users(v, &key),
            token_value,
            g.policy().can_submit_flag,
        )
    }) else {
        return no_game_page(&st, &visit);
    };
    if failed(&detail) {
        return refused(&st, &visit, &detail, &user);
    }
    let summary = game["challenge_list"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["key"] == json!(key)))
        .cloned()
        .unwrap_or(Value::Null);
    let actions: Vec<Value> = detail["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut a = a.clone();
            if a["type"] == "attachment" {
                let file = a["filename"].as_str().unwrap_or("");
                a["href"] = json!(format!(
                    "/service/attachment/{}/{}",
                    urlencode(&key),
                    urlencode(file)
                ));
            }
            if a["type"] == "webdocker" {
                let host = a["host"].as_str().unwrap_or("");
                a["href"] = json!(format!(
                    "https://{host}/docker-manager/start?{}",
                    urlencode(token_value.as_deref().unwrap_or(""))
                ));
            }
            a
        })
        .collect();
    let touched = if failed(&touched) {
        Value::Null
    } else {
        touched["list"].clone()
    };
    st.ui.render(
        &visit,
        "challenge.html",
        context! {
            user => tv(&user),
            key => key,
            desc => detail["desc"].as_str().unwrap_or(""),
            actions => tv(&json!(actions)),
            ch => tv(&summary),
            touched => tv(&touched),
            token => token_value,
            can_submit => can_submit,
        },
    )
}

/// `GET /board`: the player's home board (the total one for guests).
pub(super) async fn board_home(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let home = st
        .shared
        .read(|g| viewer(g, token).map(|ui| rules::home_board(&g.users[ui as usize].row.group)))
        .flatten()
        .unwrap_or("score_all");
    redirect(&format!("/board/{home}"))
}

#[derive(Deserialize, Default)]
pub(super) struct BoardQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<usize>,
}

fn board_label(lang: Lang, key: &str, name: &str) -> String {
    if lang == Lang::Zh {
        return name.to_owned();
    }
    let (kind, rest) = if let Some(r) = key.strip_prefix("first_") {
        ("First bloods", r)
    } else if let Some(r) = key.strip_prefix("binary_score_") {
        ("Binary stars", r)
    } else if let Some(r) = key.strip_prefix("score_") {
        ("Scores", r)
    } else {
        return match key {
            "banned" => "Banned".into(),
            _ => name.to_owned(),
        };
    };
    let who = match rest {
        "pku" => "PKU",
        "thu" => "THU",
        "other" => "others",
        "all" => "all",
        other => other,
    };
    format!("{kind} ({who})")
}

/// `GET /board/<key>?q=&page=`: a score board with its chart, searchable and paged, or a
/// first-blood board.
pub(super) async fn board(
    State(st): State<Arc<HttpState>>,
    visit: Visit,
    Path(key): Path<String>,
    Query(query): Query<BoardQuery>,
) -> Response {
    let token = visit.auth_token.as_deref();
    let now = now_s();
    let Some((user, answer)) = st.shared.read(|g| {
        let v = viewer(g, token);
        (frame_user(g, v), g.answer_board(v, &key, now))
    }) else {
        return no_game_page(&st, &visit);
    };
    if failed(&answer) {
        return refused(&st, &visit, &answer, &user);
    }
    let tabs: Vec<Value> = rules::BOARDS
        .iter()
        .map(|b| json!({"key": b.key, "name": board_label(visit.lang, b.key, b.name), "current": b.key == key}))
        .collect();
    let title = rules::BOARDS
        .iter()
        .find(|b| b.key == key)
        .map_or(key.clone(), |b| board_label(visit.lang, b.key, b.name));
    let needle = query.q.trim().to_lowercase();
    let mut ctx = context! {
        user => tv(&user),
        key => key.clone(),
        title => title,
        tabs => tv(&json!(tabs)),
        kind => answer["type"].as_str().unwrap_or(""),
        desc => answer["desc"].as_str(),
        q => query.q.clone(),
    };
    if answer["type"] == "score" {
        let all = answer["list"].as_array().cloned().unwrap_or_default();
        let matching: Vec<&Value> = all
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e["nickname"]
                        .as_str()
                        .is_some_and(|n| n.to_lowercase().contains(&needle))
            })
            .collect();
        let pages = matching.len().div_ceil(BOARD_PAGE_SIZE).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        let rows: Vec<&Value> = matching
            .into_iter()
            .skip((page - 1) * BOARD_PAGE_SIZE)
            .take(BOARD_PAGE_SIZE)
            .collect();
        let chart_title = if visit.lang == Lang::Zh {
            "前 10 名分数变化"
        } else {
            "Score history of the top 10"
        };
        let svg = chart::score_history_svg(&answer["topstars"], &answer["time_range"], chart_title);
        let legend: Vec<Value> = chart::legend(&answer["topstars"])
            .into_iter()
            .map(|(c, n)| json!({"color": c, "name": n}))
            .collect();
        let qs = if query.q.is_empty() {
            String::new()
        } else {
            format!("q={}&", urlencode(&query.q))
        };
        ctx = context! {
            ..ctx,
            ..context! {
                rows => tv(&json!(rows)),
                challenges => tv(&answer["challenges"]),
                chart => svg.map(Tv::from_safe_string),
                legend => tv(&json!(legend)),
                page => page,
                pages => pages,
                qs => qs,
                shown_group => all.iter().any(|e| !e["group_disp"].is_null()),
            }
        };
    } else {
        ctx = context! { ..ctx, ..context! { bloods => tv(&answer["list"]) } };
    }
    st.ui.render(&visit, "board.html", ctx)
}

/// `GET /user/<uid>`: a player's public solves.
pub(super) async fn user_submissions(
    State(st): State<Arc<HttpState>>,
    visit: Visit,
    Path(uid): Path<String>,
) -> Response {
    let token = visit.auth_token.as_deref();
    let now = now_s();
    let uid: i64 = uid.parse().unwrap_or(-1);
    let Some((user, answer, nickname)) = st.shared.read(|g| {
        let v = viewer(g, token);
        let nickname = g
            .user_idx(uid)
            .and_then(|ui| g.users[ui as usize].nickname().map(str::to_owned));
        (
            frame_user(g, v),
            g.answer_submissions_of(uid, now),
            nickname,
        )
    }) else {
        return no_game_page(&st, &visit);
    };
    if failed(&answer) {
        let msg = answer["error_msg"].as_str().unwrap_or("");
        return error_page(
            &st,
            &visit,
            StatusCode::NOT_FOUND,
            "NO_USER_SUBMISSIONS",
            msg,
            &user,
        );
    }
    submissions_page(&st, &visit, &user, &answer, nickname, false)
}

fn submissions_page(
    st: &HttpState,
    visit: &Visit,
    user: &Value,
    answer: &Value,
    nickname: Option<String>,
    mine: bool,
) -> Response {
    let title = if visit.lang == Lang::Zh {
        "前 10 名分数变化"
    } else {
        "Score history"
    };
    let svg = chart::score_history_svg(&answer["topstars"], &answer["time_range"], title);
    st.ui.render(
        visit,
        "submissions.html",
        context! {
            user => tv(user),
            list => tv(&answer["list"]),
            by_cat => tv(&answer["tot_score_by_cat"]),
            chart => svg.map(Tv::from_safe_string),
            nickname => nickname,
            mine => mine,
        },
    )
}

/// `GET /submissions`: the player's own submissions, right and wrong.
pub(super) async fn my_submissions(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let now = now_s();
    let Some((user, answer)) = st.shared.read(|g| {
        let v = viewer(g, token);
        (frame_user(g, v), g.answer_my_submissions(v, now))
    }) else {
        return no_game_page(&st, &visit);
    };
    if failed(&answer) {
        return refused(&st, &visit, &answer, &user);
    }
    let nickname = user["nickname"].as_str().map(str::to_owned);
    submissions_page(&st, &visit, &user, &answer, nickname, true)
}

/// `GET /writeup`: the upload form with the current upload, or why it is refused.
pub(super) async fn writeup(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let Some(user) = st.shared.read(|g| frame_user(g, viewer(g, token))) else {
        return no_game_page(&st, &visit);
    };
    let session = super::super::request::Session {
        auth_token: visit.auth_token.clone(),
    };
    let status = super::super::writeup::status_answer(&st, &session).await;
    if failed(&status) {
        return refused(&st, &visit, &status, &user);
    }
    let publish: Vec<&str> = super::super::writeup::PUBLISH.to_vec();
    let rights: Vec<&str> = super::super::writeup::RIGHTS.to_vec();
    st.ui.render(
        &visit,
        "writeup.html",
        context! {
            user => tv(&user),
            status => tv(&status),
            publish => publish,
            rights => rights,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct PrefQuery {
    lang: Option<String>,
    theme: Option<String>,
    back: Option<String>,
}

/// `GET /pref?lang=&theme=&back=`: remembers the language or theme in a cookie and goes
/// back (only to a path of this site).
pub(super) async fn preference(
    State(st): State<Arc<HttpState>>,
    Query(q): Query<PrefQuery>,
) -> Response {
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let mut res = redirect(&back);
    let lang = q.lang.as_deref().and_then(Lang::from_code).map(Lang::code);
    let theme = q
        .theme
        .as_deref()
        .filter(|t| ["dark", "light", "auto"].contains(t));
    for (name, value) in [("lang", lang), ("theme", theme)] {
        if let Some(value) = value {
            SetCookie {
                name,
                value,
                path: "/",
                max_age_s: 365 * 86_400,
                secure: st.shared.config.auth.backend_scheme == "https",
            }
            .add_to(&mut res);
        }
    }
    res
}

/// Any other path: a 404 page in the frame.
pub(super) async fn not_found(State(st): State<Arc<HttpState>>, visit: Visit) -> Response {
    let token = visit.auth_token.as_deref();
    let user = st
        .shared
        .read(|g| frame_user(g, viewer(g, token)))
        .unwrap_or(Value::Null);
    let msg = if visit.lang == Lang::Zh {
        "页面不存在"
    } else {
        "Page not found"
    };
    st.ui.render_status(
        StatusCode::NOT_FOUND,
        &visit,
        "error.html",
        context! { message => msg, code => "NOT_FOUND", user => tv(&user) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_errors_keep_the_waiting_time() {
        assert_eq!(
            error_text(Lang::En, "RATE_LIMIT", "提交太频繁，请等待 7.5 秒"),
            "Too many attempts; wait 7.5 seconds"
        );
        assert_eq!(error_text(Lang::Zh, "RATE_LIMIT", "x"), "x");
    }

    #[test]
    fn challenges_are_grouped_by_category_in_order() {
        let list = json!([
            {"key": "a", "category": "Web", "category_color": "#1"},
            {"key": "b", "category": "Misc", "category_color": "#2"},
            {"key": "c", "category": "Web", "category_color": "#1"},
        ]);
        let g = by_category(&list);
        assert_eq!(g[0]["category"], "Web");
        assert_eq!(g[0]["challenges"].as_array().unwrap().len(), 2);
        assert_eq!(g[1]["category"], "Misc");
    }

    #[test]
    fn board_labels_in_english() {
        assert_eq!(board_label(Lang::En, "score_pku", "x"), "Scores (PKU)");
        assert_eq!(
            board_label(Lang::En, "first_all", "x"),
            "First bloods (all)"
        );
        assert_eq!(board_label(Lang::Zh, "first_all", "总一血榜"), "总一血榜");
    }
}
