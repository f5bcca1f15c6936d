//! Badges shown next to a user (`rookie`, the login's extra ones) and, for admins, the
//! user id and a remark made of the login properties as the reference prints them.

use crate::state::python::{py_index, py_str};
use serde_json::Value;

/// Badges every viewer sees: `rookie` for first-year students, then the login's `badges`.
pub fn login_badges(group: &str, login_properties: &Value, stuid: Option<&str>) -> Vec<String> {
    let mut ret = Vec::new();
    let rookie = match group {
        "pku" => {
            login_properties.get("type").and_then(Value::as_str) == Some("iaaa")
                && login_properties
                    .get("info")
                    .and_then(|info| info.get("identityId"))
                    .and_then(Value::as_str)
                    .is_some_and(|id| {
                        crate::rules::PKU_ROOKIE_ID_PREFIXES
                            .iter()
                            .any(|p| id.starts_with(p))
                    })
        }
        "thu" => stuid.is_some_and(|s| {
            crate::rules::THU_ROOKIE_STUID_PREFIXES
                .iter()
                .any(|p| s.starts_with(p))
        }),
        _ => false,
    };
    if rookie {
        ret.push("rookie".to_string());
    }
    if let Some(Value::Array(extra)) = login_properties.get("badges") {
        ret.extend(extra.iter().filter_map(Value::as_str).map(str::to_string));
    }
    ret
}

/// Extra badges for admin viewers: `U#<id>` and `remark:<login_key> <formatted properties>`.
pub fn admin_badges(
    uid: i64,
    login_key: &str,
    login_properties: &Value,
    stuid: Option<&str>,
) -> Vec<String> {
    vec![
        format!("U#{uid}"),
        format!(
            "remark:{login_key} {}",
            format_login_properties(login_properties, stuid)
        ),
    ]
}

/// Human-readable login identity as the reference prints it (Carsi shows the profile's stuid).
pub fn format_login_properties(login_properties: &Value, stuid: Option<&str>) -> String {
    let ty = login_properties.get("type").unwrap_or(&Value::Null);
    let formatted = match ty.as_str() {
        Some("iaaa") => (|| {
            let info = py_index(login_properties, "info")?;
            Ok(format!(
                "[IAAA] {}（{} {} {}）",
                py_str(&py_index(info, "name")?),
                py_str(&py_index(info, "dept")?),
                py_str(&py_index(info, "detailType")?),
                py_str(&py_index(info, "identityStatus")?),
            ))
        })(),
        Some("microsoft") => (|| {
            let info = py_index(login_properties, "info")?;
            Ok(format!(
                "[MS] {} ({})",
                py_str(&py_index(info, "displayName")?),
                py_str(&py_index(info, "userPrincipalName")?),
            ))
        })(),
        Some("github") => (|| {
            let info = py_index(login_properties, "info")?;
            Ok(format!(
                "[GitHub] {} ({})",
                py_str(&py_index(info, "name")?),
                py_str(&py_index(info, "login")?),
            ))
        })(),
        Some("carsi") => (|| {
            let info = py_index(login_properties, "info")?;
            Ok(format!(
                "[Carsi] {} ({})",
                stuid.unwrap_or("None"),
                py_str(&py_index(info, "usertype")?),
            ))
        })(),
        _ => Ok(format!("[{}]", py_str(&ty))),
    };
    formatted.unwrap_or_else(|exc: String| format!("[{}] ERR: {exc}", py_str(&ty)))
}
