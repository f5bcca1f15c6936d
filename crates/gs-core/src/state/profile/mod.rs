//! Player profiles: the fields each group must fill and their validation, with the
//! reference's messages. Badges (`badges`), the emoji rules and display width (`emoji`) and
//! sit beside; Python's `repr()`/`str()` are `state::python`.

pub mod badges;
mod emoji;
#[cfg(test)]
mod tests;

pub use emoji::display_width;

use crate::rules::ProfileField;
use emoji::is_emoji_component;

use md5::{Digest, Md5};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest accepted nickname display width (see [`display_width`]).
pub const MAX_NICKNAME_WIDTH: usize = 40;

/// Validates one field value; `login_key` is only used for the student id.
pub fn check_field(field: ProfileField, value: &str, login_key: &str) -> Result<(), String> {
    let err = |msg: &str| Err(msg.to_string());
    match field {
        ProfileField::Nickname => {
            if !py_line_len_in(value, 1, 120) {
                return err("昵称格式错误");
            }
            check_nickname_chars(value)
        }
        ProfileField::Qq if !py_line_len_in(value, 5, 50) => err("QQ号格式错误"),
        ProfileField::Tel if !py_line_len_in(value, 5, 20) => err("电话号码格式错误"),
        ProfileField::Email
            if !(value.ends_with("@tsinghua.edu.cn")
                || value.ends_with("@mails.tsinghua.edu.cn")) =>
        {
            err("邮箱格式错误，请填写清华邮箱地址")
        }
        ProfileField::Stuid => check_stuid(value, login_key),
        ProfileField::Comment if !py_line_len_in(value, 0, 100) => err("了解比赛的渠道格式错误"),
        _ => Ok(()),
    }
}

/// Validates a whole profile for a group: completeness first, then each field in reference order.
pub fn check_profile<'a>(
    group: &str,
    login_key: &str,
    value_of: impl Fn(ProfileField) -> Option<&'a str>,
) -> Result<(), String> {
    let required = crate::rules::profile_fields(group);
    if let Some(missing) = required.iter().find(|f| value_of(**f).is_none()) {
        return Err(format!("个人信息不完整（{}）", missing.name()));
    }
    for field in ProfileField::ALL {
        if let (true, Some(value)) = (required.contains(&field), value_of(field)) {
            check_field(field, value, login_key)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Field checks

/// Python `re.match(r'^.{min,max}$', value)`: `.` excludes `\n`, `$` also matches before a
/// final `\n`; lengths are in code points.
fn py_line_len_in(value: &str, min: usize, max: usize) -> bool {
    let body = value.strip_suffix('\n').unwrap_or(value);
    !body.contains('\n') && (min..=max).contains(&body.chars().count())
}

/// The reference's character, all-spaces and width checks of a nickname.
fn check_nickname_chars(name: &str) -> Result<(), String> {
    let mut all_whitespace = true;
    for c in name.chars() {
        if is_disallowed(c) {
            return Err(format!("昵称中不能包含字符 {:#x}", u32::from(c)));
        }
        if !is_whitespace_like(c) {
            all_whitespace = false;
        }
    }
    if all_whitespace {
        return Err("昵称不能全为空格".to_string());
    }
    let width = display_width(name);
    if width > MAX_NICKNAME_WIDTH {
        return Err(format!("昵称长度（{width}）太长"));
    }
    Ok(())
}

/// Ten decimal digits (any script, as Python's `\d`) whose md5 matches the `carsi:` key.
fn check_stuid(value: &str, login_key: &str) -> Result<(), String> {
    let body = value.strip_suffix('\n').unwrap_or(value);
    let digits = body
        .chars()
        .all(|c| c.general_category() == GeneralCategory::DecimalNumber);
    if !digits || body.chars().count() != 10 {
        return Err("学号格式错误".to_string());
    }
    match login_key.split_once(':') {
        Some(("carsi", idhash)) if idhash.chars().count() == 32 => {
            if hex::encode(Md5::digest(value.as_bytes())) == idhash {
                Ok(())
            } else {
                Err("学号与登录方式不符".to_string())
            }
        }
        _ => Err("无法验证学号正确性".to_string()),
    }
}

fn is_disallowed(c: char) -> bool {
    use GeneralCategory::*;
    if is_emoji_component(c) {
        return false;
    }
    let banned_category = matches!(
        c.general_category(),
        Control
            | Format
            | Surrogate
            | SpacingMark
            | EnclosingMark
            | NonspacingMark
            | LineSeparator
            | ParagraphSeparator
    );
    banned_category || matches!(u32::from(c), 0x12423..=0x12431 | 0x0D78)
}

fn is_whitespace_like(c: char) -> bool {
    c.general_category() == GeneralCategory::SpaceSeparator || is_emoji_component(c)
}
