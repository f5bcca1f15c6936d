//! Unit tests of profile validation, badges, emoji widths and the Python formatting,
//! with the golden dumps' users as evidence.

use super::badges::{admin_badges, format_login_properties, login_badges};
use super::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

fn nick(s: &str) -> Result<(), String> {
    check_field(ProfileField::Nickname, s, "")
}

/// (nickname, width, error) as the reference's libraries answer: every nickname of the
/// golden dumps, then edge cases (emoji sequences, selectors, joiners, flags, controls).
const NICKNAME_CASES: &[(&str, usize, Option<&str>)] = &[
    ("  spaced  ", 10, None),
    ("  spaced   33", 13, None),
    ("  spaced   53", 13, None),
    ("Bob", 4, None),
    ("Bob 21", 7, None),
    ("Bob 41", 7, None),
    ("MMMMMMMMMM", 20, None),
    ("MMMMMMMMMM 34", 23, None),
    ("MMMMMMMMMM 54", 23, None),
    ("Null", 5, None),
    ("Null 27", 8, None),
    ("Null 47", 8, None),
    ("alice 20", 8, None),
    ("alice 40", 8, None),
    ("alice 60", 8, None),
    ("eve<script>", 13, None),
    ("eve<script> 48", 16, None),
    ("o_O", 4, None),
    ("o_O 32", 7, None),
    ("o_O 52", 7, None),
    ("qwerty", 7, None),
    ("qwerty 37", 10, None),
    ("qwerty 57", 10, None),
    ("r00t", 4, None),
    ("r00t 36", 7, None),
    ("r00t 56", 7, None),
    ("tab\u{9}name", 9, Some("昵称中不能包含字符 0x9")),
    ("tab\u{9}name 29", 12, Some("昵称中不能包含字符 0x9")),
    ("tab\u{9}name 49", 12, Some("昵称中不能包含字符 0x9")),
    ("zero-day 25", 11, None),
    ("zero-day 45", 11, None),
    ("Émile", 7, None),
    ("Émile 31", 10, None),
    ("ĉapelo", 7, None),
    ("ĉapelo 38", 10, None),
    ("ĉapelo 58", 10, None),
    ("λ calculus", 11, None),
    ("λ calculus 26", 14, None),
    ("λ calculus 46", 14, None),
    ("小明", 4, None),
    ("小明 22", 7, None),
    ("小明 42", 7, None),
    ("花开富贵", 8, None),
    ("花开富贵 35", 11, None),
    ("花开富贵 55", 11, None),
    ("ＷＩＤＥ", 8, None),
    ("ＷＩＤＥ 24", 11, None),
    ("ＷＩＤＥ 44", 11, None),
    ("ﾊﾝｶｸ", 8, None),
    ("ﾊﾝｶｸ 30", 11, None),
    ("ﾊﾝｶｸ 50", 11, None),
    (
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466} family",
        10,
        None,
    ),
    (
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466} family 39",
        13,
        None,
    ),
    (
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466} family 59",
        13,
        None,
    ),
    ("\u{1f980} crab", 7, None),
    ("\u{1f980} crab 23", 10, None),
    ("\u{1f980} crab 43", 10, None),
    ("\u{1f980}\u{200d}\u{1f980}", 4, None),
    ("\u{1f980}\u{1f3fb}", 4, None),
    ("\u{1f1e6}\u{1f1e6}\u{1f1e6}", 4, Some("昵称不能全为空格")),
    ("\u{1f1e6}", 2, Some("昵称不能全为空格")),
    ("\u{1f1fa}\u{1f1f8}", 2, Some("昵称不能全为空格")),
    ("\u{1f1fa}\u{1f1f8}\u{1f1ec}", 4, Some("昵称不能全为空格")),
    ("1\u{fe0f}\u{20e3}", 2, None),
    ("#", 1, None),
    ("#\u{fe0f}", 1, None),
    (
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466}",
        2,
        None,
    ),
    (
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}\u{200d}\u{1f466} family",
        10,
        None,
    ),
    (
        "\u{1f3f4}\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
        2,
        None,
    ),
    ("a\u{fe0f}", 1, None),
    ("\u{1f600}\u{fe0f}", 2, None),
    ("\u{200b}", 2, Some("昵称不能全为空格")),
    ("a\u{200b}", 3, None),
    ("\u{a9}", 2, None),
    ("\u{a9}\u{fe0f}", 2, None),
    ("\u{263a}", 2, None),
    ("\u{263a}\u{fe0f}", 2, None),
    ("\u{2764}", 2, None),
    ("\u{2764}\u{fe0f}", 2, None),
    ("\u{2764}\u{fe0f}\u{200d}\u{1f525}", 2, None),
    ("\u{1f44d}\u{1f3fb}", 2, None),
    ("\u{1f3fb}", 2, None),
    ("\u{1f9b0}", 2, None),
    ("\u{1f469}\u{200d}\u{1f9b0}", 2, None),
    ("a\u{200d}b", 3, None),
    ("ＷＩＤＥ", 8, None),
    ("ﾊﾝｶｸ", 8, None),
    ("Émile", 7, None),
    ("E\u{301}mile", 7, Some("昵称中不能包含字符 0x301")),
    ("wm@%~=<>&", 18, None),
    ("AZaz09", 8, None),
    ("  ", 2, Some("昵称不能全为空格")),
    ("\u{3000}", 2, Some("昵称不能全为空格")),
    ("\u{a0}x", 3, None),
    ("x\u{a}", 2, Some("昵称中不能包含字符 0xa")),
    ("tab\u{9}name", 9, Some("昵称中不能包含字符 0x9")),
    ("\u{d78}", 2, Some("昵称中不能包含字符 0xd78")),
    ("\u{1242}3", 3, None),
    ("\u{12423}", 2, Some("昵称中不能包含字符 0x12423")),
    ("\u{1fae8}", 2, None),
    ("\u{1fae8}\u{200d}\u{1fae8}", 4, None),
    (
        "\u{1f9d1}\u{1f3fb}\u{200d}\u{1f91d}\u{200d}\u{1f9d1}\u{1f3ff}",
        2,
        None,
    ),
    ("\u{1f9d1}\u{200d}\u{1f9d1}\u{200d}\u{1f9d2}", 2, None),
    ("\u{1f426}\u{200d}\u{1f525}", 2, None),
    ("\u{1f642}\u{200d}\u{2194}\u{fe0f}", 2, None),
    ("\u{1fae9}", 2, None),
    ("\u{1f441}\u{fe0f}\u{200d}\u{1f5e8}\u{fe0f}", 2, None),
    ("a\u{e0061}", 2, None),
    ("\u{1f3f3}\u{fe0f}\u{200d}\u{26a7}\u{fe0f}", 2, None),
    ("\u{1f3f3}\u{200d}\u{26a7}", 2, None),
    ("\u{1f600}\u{1f600}", 4, None),
    ("\u{1f48f}\u{1f3fb}", 2, None),
    ("\u{1faf1}\u{1f3fb}\u{200d}\u{1faf2}\u{1f3ff}", 2, None),
    ("\u{2640}\u{fe0f}", 2, None),
    ("\u{26f9}\u{1f3fb}\u{200d}\u{2640}\u{fe0f}", 2, None),
    ("\u{26f9}\u{fe0f}\u{200d}\u{2640}\u{fe0f}", 2, None),
    ("\u{1f1e6}\u{200d}\u{1f1e6}", 4, Some("昵称不能全为空格")),
    ("\u{200d}", 2, Some("昵称不能全为空格")),
    ("\u{200d}a", 3, None),
    ("x\u{20e3}", 2, None),
    ("\u{600}x", 2, Some("昵称中不能包含字符 0x600")),
    ("\u{d4e}\u{1f980}", 2, None),
];

#[test]
fn nickname_cases_match_reference() {
    for &(name, width, err) in NICKNAME_CASES {
        assert_eq!(display_width(name), width, "width of {name:?}");
        assert_eq!(nick(name).err().as_deref(), err, "check of {name:?}");
    }
}

#[test]
fn width_rules() {
    assert_eq!(display_width(""), 0);
    assert_eq!(display_width("abc xyz09_-"), 11);
    for c in "wm@%~=<>&ABCXYZ".chars() {
        assert_eq!(display_width(&c.to_string()), 2, "{c:?}");
    }
    assert_eq!(display_width("典"), 2);
    assert_eq!(display_width("é"), 2);
    assert_eq!(display_width("e\u{301}"), 2); // one cluster
    assert_eq!(display_width("🦀"), 2);
    assert_eq!(display_width("👨‍👩‍👧‍👦"), 2); // RGI ZWJ sequence: one emoji
    assert_eq!(display_width("🦀\u{200d}🦀"), 4); // non-RGI: the joiner is dropped
    assert_eq!(display_width("🦀🏻"), 4); // modifier on a non-base: two emoji
    assert_eq!(display_width("👍🏻"), 2);
    assert_eq!(display_width("a\u{fe0f}"), 1); // variation selectors are removed
    assert_eq!(display_width("\u{fe0f}\u{fe0e}"), 0);
    assert_eq!(display_width("1\u{fe0f}\u{20e3}"), 2);
    assert_eq!(display_width("\r\n"), 2); // one cluster of two characters
    assert_eq!(display_width(&"a".repeat(40)), 40);
    // Pictographs that are no emoji still join through a ZWJ (Unicode 16 segmentation).
    assert_eq!(display_width("\u{1f036}\u{200d}\u{1f033}"), 2);
}

#[test]
fn no_panic_on_odd_input() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let specials = [
        '\u{200d}',
        '\u{fe0f}',
        '\u{1f3fb}',
        '\u{1f9b0}',
        '\u{1f1e6}',
        '\u{e0067}',
        '\n',
    ];
    for _ in 0..2000 {
        let len = (next() % 130) as usize;
        let s: String = (0..len)
            .map(|_| match next() % 3 {
                0 => specials[(next() % specials.len() as u64) as usize],
                1 => char::from_u32(0x1f000 + (next() % 0xb00) as u32).unwrap_or('x'),
                _ => char::from_u32((next() % 0x11_0000) as u32).unwrap_or('\u{fffd}'),
            })
            .collect();
        let _ = display_width(&s);
        for f in ProfileField::ALL {
            let _ = check_field(f, &s, &format!("carsi:{s}"));
        }
        let props = json!({"type": "github", "info": {"name": s, "login": [s, 1.5, null]}});
        assert!(format_login_properties(&props, Some(&s)).starts_with("[GitHub] "));
    }
}

#[test]
fn nickname_rules() {
    assert_eq!(nick(""), Err("昵称格式错误".into()));
    assert_eq!(nick(&"a".repeat(121)), Err("昵称格式错误".into()));
    assert_eq!(nick("a\nb"), Err("昵称格式错误".into()));
    // Python's `$` accepts a final newline; the character check then rejects it.
    assert_eq!(nick("ab\n"), Err("昵称中不能包含字符 0xa".into()));
    assert_eq!(nick("tab\tname"), Err("昵称中不能包含字符 0x9".into()));
    assert_eq!(nick("e\u{301}"), Err("昵称中不能包含字符 0x301".into()));
    assert_eq!(nick("a\u{2028}"), Err("昵称中不能包含字符 0x2028".into()));
    assert_eq!(nick("a\u{200e}"), Err("昵称中不能包含字符 0x200e".into()));
    assert_eq!(nick("\u{d78}"), Err("昵称中不能包含字符 0xd78".into()));
    assert_eq!(nick("\u{12423}"), Err("昵称中不能包含字符 0x12423".into()));
    // The first banned character is reported even after an all-space prefix.
    assert_eq!(nick("  \u{7}"), Err("昵称中不能包含字符 0x7".into()));
    for spaces in [
        " ",
        "   ",
        "\u{3000}",
        "\u{a0}\u{200b}",
        "🇺🇸",
        "\u{200d}\u{fe0f}",
    ] {
        assert_eq!(nick(spaces), Err("昵称不能全为空格".into()), "{spaces:?}");
    }
    assert_eq!(nick(" x "), Ok(()));
    assert_eq!(
        nick("👨‍👩‍👧‍👦🏴\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}1️⃣"),
        Ok(())
    );
    assert_eq!(nick(&"a".repeat(40)), Ok(()));
    assert_eq!(nick(&"a".repeat(41)), Err("昵称长度（41）太长".into()));
    assert_eq!(nick(&"M".repeat(20)), Ok(()));
    assert_eq!(nick(&"M".repeat(21)), Err("昵称长度（42）太长".into()));
    assert_eq!(nick(&"🦀".repeat(21)), Err("昵称长度（42）太长".into()));
    // 120 code points of which only 20 clusters: the length limit is on code points.
    assert_eq!(nick(&"👍🏻".repeat(20)), Ok(()));
    assert_eq!(
        nick(&format!("{}a", "👍🏻".repeat(60))),
        Err("昵称格式错误".into())
    );
}

#[test]
fn other_field_rules() {
    let f = |field, v: &str| check_field(field, v, "");
    assert_eq!(f(ProfileField::Qq, "1234"), Err("QQ号格式错误".into()));
    assert_eq!(f(ProfileField::Qq, "12345"), Ok(()));
    assert_eq!(f(ProfileField::Qq, "12345\n"), Ok(()));
    assert_eq!(f(ProfileField::Qq, "12\n345"), Err("QQ号格式错误".into()));
    assert_eq!(f(ProfileField::Qq, &"9".repeat(50)), Ok(()));
    assert_eq!(
        f(ProfileField::Qq, &"9".repeat(51)),
        Err("QQ号格式错误".into())
    );
    assert_eq!(f(ProfileField::Tel, "１２３４５"), Ok(()));
    assert_eq!(
        f(ProfileField::Tel, &"1".repeat(21)),
        Err("电话号码格式错误".into())
    );
    assert_eq!(f(ProfileField::Comment, ""), Ok(()));
    assert_eq!(f(ProfileField::Comment, &"评".repeat(100)), Ok(()));
    assert_eq!(
        f(ProfileField::Comment, &"评".repeat(101)),
        Err("了解比赛的渠道格式错误".into())
    );
    let bad_email = Err("邮箱格式错误，请填写清华邮箱地址".to_string());
    assert_eq!(f(ProfileField::Email, "u2@mails.tsinghua.edu.cn"), Ok(()));
    assert_eq!(f(ProfileField::Email, "abc@tsinghua.edu.cn"), Ok(()));
    assert_eq!(f(ProfileField::Email, "abc@pku.edu.cn"), bad_email);
    assert_eq!(
        f(ProfileField::Email, "abc@mail.tsinghua.edu.cn"),
        bad_email
    );
    assert_eq!(f(ProfileField::Email, "abc@tsinghua.edu.cn\n"), bad_email);
}

#[test]
fn stuid_rules() {
    let key = format!("carsi:{}", hex::encode(Md5::digest(b"2025080002")));
    assert_eq!(key, "carsi:c873c21b3aac0cb52539539b00031464");
    let f = |v: &str, k: &str| check_field(ProfileField::Stuid, v, k);
    assert_eq!(f("2025080002", &key), Ok(()));
    assert_eq!(f("2025080003", &key), Err("学号与登录方式不符".into()));
    assert_eq!(f("2025080002\n", &key), Err("学号与登录方式不符".into()));
    assert_eq!(f("202508000", &key), Err("学号格式错误".into()));
    assert_eq!(f("20250800021", &key), Err("学号格式错误".into()));
    assert_eq!(f("202508000x", &key), Err("学号格式错误".into()));
    // Python's \d takes any decimal digit; the hash then tells it apart.
    assert_eq!(
        f("２０２５０８０００２", &key),
        Err("学号与登录方式不符".into())
    );
    assert_eq!(
        f("2025080002", "iaaa:2025080002"),
        Err("无法验证学号正确性".into())
    );
    assert_eq!(
        f("2025080002", "carsi:abc"),
        Err("无法验证学号正确性".into())
    );
    assert_eq!(f("2025080002", "carsi"), Err("无法验证学号正确性".into()));
    let upper = key.to_uppercase().replace("CARSI", "carsi");
    assert_eq!(f("2025080002", &upper), Err("学号与登录方式不符".into()));
}

#[test]
fn fields_and_whole_profiles() {
    use ProfileField::*;
    assert_eq!(
        crate::rules::profile_fields("thu"),
        &[Nickname, Email, Qq, Stuid, Comment]
    );
    assert_eq!(
        crate::rules::profile_fields("staff"),
        &[Nickname, Tel, Qq, Comment]
    );
    assert_eq!(
        crate::rules::profile_fields("banned"),
        &[Nickname, Qq, Comment]
    );
    assert!(crate::rules::profile_fields("nope").is_empty());
    for f in ProfileField::ALL {
        assert_eq!(ProfileField::from_name(f.name()), Some(f));
    }
    assert_eq!(ProfileField::from_name("gender"), None);

    let mut p: HashMap<ProfileField, &str> =
        HashMap::from([(Nickname, "n"), (Qq, "1"), (Comment, ""), (Email, "x@y")]);
    let check = |p: &HashMap<ProfileField, &str>, g: &str| {
        check_profile(g, "github:1", |f| p.get(&f).copied())
    };
    assert_eq!(check(&p, "pku"), Err("个人信息不完整（tel）".into()));
    assert_eq!(check(&p, "thu"), Err("个人信息不完整（stuid）".into()));
    assert_eq!(check(&p, "other"), Err("QQ号格式错误".into()));
    assert_eq!(check(&p, "unknown"), Ok(()));
    p.insert(Qq, "12345");
    p.insert(Stuid, "2025080002");
    assert_eq!(check(&p, "other"), Ok(()));
    // Validation runs in the reference's field order (email before stuid), not the group's.
    assert_eq!(
        check(&p, "thu"),
        Err("邮箱格式错误，请填写清华邮箱地址".into())
    );
    p.insert(Email, "x@tsinghua.edu.cn");
    assert_eq!(check(&p, "thu"), Err("无法验证学号正确性".into()));
    // Fields outside the group are not looked at.
    p.insert(Tel, "1");
    assert_eq!(check(&p, "other"), Ok(()));
}

#[test]
fn badges_rules() {
    let iaaa = |id: &str| json!({"type": "iaaa", "info": {"identityId": id}});
    assert_eq!(login_badges("pku", &iaaa("2500012345"), None), ["rookie"]);
    assert_eq!(login_badges("pku", &iaaa("2510112345"), None), ["rookie"]);
    assert_eq!(login_badges("pku", &iaaa("2510312345"), None), ["rookie"]);
    assert!(login_badges("pku", &iaaa("2510212345"), None).is_empty());
    assert!(login_badges("pku", &iaaa("2400012345"), None).is_empty());
    assert!(login_badges("staff", &iaaa("2500012345"), None).is_empty());
    assert!(login_badges(
        "pku",
        &json!({"type": "iaaa", "info": {"identityId": 25000}}),
        None
    )
    .is_empty());
    assert!(login_badges("pku", &json!({"type": "github"}), None).is_empty());
    let carsi = json!({"type": "carsi", "info": {}});
    assert_eq!(login_badges("thu", &carsi, Some("2025010001")), ["rookie"]);
    assert_eq!(login_badges("thu", &carsi, Some("2025080001")), ["rookie"]);
    assert!(login_badges("thu", &carsi, Some("2025020001")).is_empty());
    assert!(login_badges("thu", &carsi, None).is_empty());
    assert!(login_badges("other", &carsi, Some("2025080001")).is_empty());
    let extra =
        json!({"type": "iaaa", "info": {"identityId": "2500000001"}, "badges": ["a", 1, "b"]});
    assert_eq!(login_badges("pku", &extra, None), ["rookie", "a", "b"]);
    assert!(login_badges("pku", &json!({"badges": "x"}), None).is_empty());
    assert!(login_badges("pku", &json!(null), None).is_empty());
}

#[test]
fn login_properties_formats() {
    let f = |v: Value| format_login_properties(&v, None);
    assert_eq!(f(json!({"type": "manual"})), "[manual]");
    assert_eq!(f(json!({"type": "weird", "info": {}})), "[weird]");
    assert_eq!(f(json!({"type": 5})), "[5]");
    assert_eq!(f(json!({})), "[None]");
    assert_eq!(
        f(json!({"type": "github", "info": {"id": 1, "login": "gh17", "name": "GitHub User 17"}})),
        "[GitHub] GitHub User 17 (gh17)"
    );
    assert_eq!(
        f(json!({"type": "github", "info": {"name": null, "login": 7}})),
        "[GitHub] None (7)"
    );
    assert_eq!(
        f(
            json!({"type": "microsoft", "info": {"displayName": "A B", "userPrincipalName": "a@b.c"}})
        ),
        "[MS] A B (a@b.c)"
    );
    assert_eq!(
        f(
            json!({"type": "iaaa", "info": {"name": "学生47", "dept": "信息科学技术学院",
            "detailType": "本科生", "identityStatus": "在校", "identityId": "2510100047"}})
        ),
        "[IAAA] 学生47（信息科学技术学院 本科生 在校）"
    );
    let carsi =
        json!({"type": "carsi", "info": {"usertype": "student", "domain": "tsinghua.edu.cn"}});
    assert_eq!(
        format_login_properties(&carsi, Some("2025080010")),
        "[Carsi] 2025080010 (student)"
    );
    assert_eq!(
        format_login_properties(&carsi, None),
        "[Carsi] None (student)"
    );
    // Errors print as the reference's `repr()` of the Python exception.
    assert_eq!(
        f(json!({"type": "github"})),
        "[github] ERR: KeyError('info')"
    );
    assert_eq!(
        f(json!({"type": "github", "info": {"name": "n"}})),
        "[github] ERR: KeyError('login')"
    );
    assert_eq!(
        f(json!({"type": "iaaa", "info": "x"})),
        "[iaaa] ERR: TypeError(\"string indices must be integers, not 'str'\")"
    );
    assert_eq!(
        f(json!({"type": "iaaa", "info": []})),
        "[iaaa] ERR: TypeError('list indices must be integers or slices, not str')"
    );
    assert_eq!(
        f(json!({"type": "microsoft", "info": null})),
        "[microsoft] ERR: TypeError(\"'NoneType' object is not subscriptable\")"
    );
    assert_eq!(
        f(
            json!({"type": "github", "info": {"name": [1, "a'b", null, true, {"k": 1.0}], "login": 1e16}})
        ),
        "[GitHub] [1, \"a'b\", None, True, {'k': 1.0}] (1e+16)"
    );
    assert_eq!(
        admin_badges(17, "github:1017", &json!({"type": "manual"}), None),
        ["U#17", "remark:github:1017 [manual]"]
    );
}

// --- golden data --------------------------------------------------------------------------

struct Dump {
    users: BTreeMap<i64, Value>,
    profiles: HashMap<i64, Value>,
    uid_by_auth: HashMap<String, i64>,
    answers: Value,
}

fn load(name: &str) -> Dump {
    let read = |file: String| -> Value {
        let path = crate::testing::golden_dir()
            .join(file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let contest = read(format!("{name}.contest.json"));
    let rows = |t: &str| contest["tables"][t].as_array().cloned().unwrap_or_default();
    let users: BTreeMap<i64, Value> = rows("user")
        .into_iter()
        .map(|u| (u["id"].as_i64().unwrap(), u))
        .collect();
    let uid_by_auth = users
        .iter()
        .filter_map(|(id, u)| Some((u["auth_token"].as_str()?.to_string(), *id)))
        .collect();
    let profiles = rows("user_profile")
        .into_iter()
        .map(|p| (p["id"].as_i64().unwrap(), p))
        .collect();
    Dump {
        users,
        profiles,
        uid_by_auth,
        answers: read(format!("{name}.answers.json")),
    }
}

impl Dump {
    fn profile(&self, uid: i64) -> Option<&Value> {
        self.profiles.get(&self.users[&uid]["profile_id"].as_i64()?)
    }

    fn field(&self, uid: i64, field: ProfileField) -> Option<&str> {
        self.profile(uid)?.get(field.name())?.as_str()
    }

    fn badges(&self, uid: i64, admin: bool) -> Vec<String> {
        let u = &self.users[&uid];
        let (key, props, group) = (
            u["login_key"].as_str().unwrap(),
            &u["login_properties"],
            u["group"].as_str().unwrap(),
        );
        let stuid = self.field(uid, ProfileField::Stuid);
        let mut ret = login_badges(group, props, stuid);
        if admin {
            ret.extend(admin_badges(uid, key, props, stuid));
        }
        ret
    }

    /// Every (endpoint, viewer uid, answer) of the three lists.
    fn items(&self) -> impl Iterator<Item = (&str, Option<i64>, &Value)> {
        ["static", "live", "after_live"]
            .into_iter()
            .flat_map(move |list| {
                self.answers[list]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |it| {
                        let viewer = it["auth_token"]
                            .as_str()
                            .and_then(|t| self.uid_by_auth.get(t).copied());
                        (it["endpoint"].as_str().unwrap_or(""), viewer, &it["answer"])
                    })
            })
    }
}

fn walk<'v>(v: &'v Value, found: &mut Vec<(i64, &'v Value)>) {
    match v {
        Value::Object(map) => {
            if let (Some(uid), Some(badges)) =
                (map.get("uid").and_then(Value::as_i64), map.get("badges"))
            {
                found.push((uid, badges));
            }
            map.values().for_each(|x| walk(x, found));
        }
        Value::Array(items) => items.iter().for_each(|x| walk(x, found)),
        _ => {}
    }
}

#[test]
fn golden_badges() {
    for name in ["running", "ended"] {
        let dump = load(name);
        // (uid, admin viewer) -> every badge list of that user in those answers was equal
        let mut per_user: BTreeMap<(i64, bool), bool> = BTreeMap::new();
        let mut mismatches = Vec::new();
        let mut lists = 0;
        for (endpoint, viewer, answer) in dump.items() {
            let admin = viewer == Some(1);
            let mut found = Vec::new();
            walk(answer, &mut found);
            for (uid, badges) in found {
                lists += 1;
                let want: Value = dump.badges(uid, admin).into();
                let same = badges == &want;
                *per_user.entry((uid, admin)).or_insert(true) &= same;
                if !same {
                    mismatches.push(format!("{endpoint} U#{uid}: got {badges}, want {want}"));
                }
            }
        }
        let tally = |admin: bool| {
            let users: Vec<bool> = per_user
                .iter()
                .filter(|((_, a), _)| *a == admin)
                .map(|(_, ok)| *ok)
                .collect();
            (users.iter().filter(|ok| **ok).count(), users.len())
        };
        let ((admin_eq, admin_tot), (other_eq, other_tot)) = (tally(true), tally(false));
        println!(
            "{name}: badges equal for {admin_eq}/{admin_tot} users seen by the admin, \
             {other_eq}/{other_tot} seen by others ({lists} lists)"
        );
        assert!(mismatches.is_empty(), "{name}: {mismatches:#?}");
        assert!(
            admin_tot >= 30,
            "{name}: too few admin-viewed users ({admin_tot})"
        );
    }
}

/// Evidence from the answers: a user passed `check_play_game` (so the profile is valid) or
/// failed it on the profile.
#[test]
fn golden_profile_validity() {
    const PLAY: [&str; 6] = [
        "game",
        "challenge/",
        "submit_flag",
        "submit_feedback",
        "get_touched_users/",
        "my_submissions",
    ];
    const BEFORE_PROFILE: [&str; 5] = [
        "NO_USER",
        "NO_GAME",
        "USER_DISABLED",
        "SHOULD_AGREE_TERMS",
        "USER_BANNED",
    ];
    for name in ["running", "ended"] {
        let dump = load(name);
        let mut evidence: BTreeMap<i64, bool> = BTreeMap::new();
        for (endpoint, viewer, answer) in dump.items() {
            let Some(uid) = viewer else { continue };
            let error = answer.get("error").and_then(Value::as_str);
            let is_play = PLAY.iter().any(|p| {
                if p.ends_with('/') {
                    endpoint.starts_with(p)
                } else {
                    endpoint == *p
                }
            });
            let verdict = match error {
                Some("SHOULD_UPDATE_PROFILE") => Some(false),
                Some(e) if is_play && !BEFORE_PROFILE.contains(&e) => Some(true),
                None if is_play => Some(true),
                None if endpoint == "game_info" && answer["feature"]["push"] == json!(true) => {
                    Some(true)
                }
                _ => None,
            };
            if let Some(ok) = verdict {
                assert_ne!(
                    evidence.insert(uid, ok),
                    Some(!ok),
                    "{name}: U#{uid} contradicts itself"
                );
            }
        }
        for (&uid, &ok) in &evidence {
            let group = dump.users[&uid]["group"].as_str().unwrap();
            let key = dump.users[&uid]["login_key"].as_str().unwrap();
            let got = check_profile(group, key, |f| dump.field(uid, f));
            assert_eq!(got.is_ok(), ok, "{name}: U#{uid} {group}: {got:?}");
        }
        let invalid = evidence.values().filter(|ok| !**ok).count();
        println!(
            "{name}: profile validity matches for {} users ({invalid} invalid)",
            evidence.len()
        );
        assert!(evidence.len() >= 20 && invalid >= 2);
    }
}

/// Every profile row of the dumps: only the tab nicknames are rejected, and every Tsinghua
/// row's email and student id pass (its stuid hashes to the login key).
#[test]
fn golden_profile_rows() {
    for name in ["running", "ended"] {
        let dump = load(name);
        let mut rejected = Vec::new();
        for p in dump.profiles.values() {
            let uid = p["user_id"].as_i64().unwrap();
            let key = dump
                .users
                .get(&uid)
                .and_then(|u| u["login_key"].as_str())
                .unwrap_or("");
            if let Some(n) = p["nickname"].as_str() {
                match nick(n) {
                    Ok(()) => assert!(!n.contains('\t')),
                    Err(e) => {
                        assert_eq!(e, "昵称中不能包含字符 0x9", "{n:?}");
                        rejected.push(n.to_string());
                    }
                }
            }
            for field in [
                ProfileField::Qq,
                ProfileField::Tel,
                ProfileField::Email,
                ProfileField::Stuid,
                ProfileField::Comment,
            ] {
                if let Some(v) = p[field.name()].as_str() {
                    assert_eq!(
                        check_field(field, v, key),
                        Ok(()),
                        "{name}: {field:?} of U#{uid}"
                    );
                }
            }
        }
        println!(
            "{name}: {} profile rows, rejected nicknames {rejected:?}",
            dump.profiles.len()
        );
        assert!(!rejected.is_empty());
    }
}
