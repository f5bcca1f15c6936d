//! Glitter's message types through JSON: every type round-trips, and the wire shape is
//! the documented, language-neutral one (docs/glitter.md).

use std::collections::BTreeMap;

use gs::glitter::{
    Action, ActionReply, Event, EventKind, PushMessage, Telemetry, PROTOCOL_VERSION,
};
use serde_json::{json, Value};

fn round_trip<T>(value: &T) -> Value
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let text = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&text).unwrap();
    assert_eq!(&back, value, "round trip of {text}");
    serde_json::from_str(&text).unwrap()
}

fn every_action() -> Vec<Action> {
    let mut extra = serde_json::Map::new();
    extra.insert("git_rev".into(), json!("abc123"));
    vec![
        Action::SetDynamicFlag {
            uid: 7,
            challenge_key: "misc_zip".into(),
            flag_idx: 0,
            generator: "misc_zip/flag".into(),
            value: "flag{abc}".into(),
        },
        Action::RegisterUser {
            login_key: "iaaa:2100012345".into(),
            login_properties: json!({"type": "iaaa", "info": {"name": "张三"}}),
            group: "pku".into(),
        },
        Action::UpdateProfile {
            uid: 7,
            profile: BTreeMap::from([
                ("nickname".to_owned(), "neko".to_owned()),
                ("qq".to_owned(), "10001".to_owned()),
            ]),
        },
        Action::AgreeTerm { uid: 7 },
        Action::SubmitFlag {
            uid: 7,
            challenge_key: "misc_welcome".into(),
            flag: "flag{\"quoted\" \\ ünïcode}".into(),
            meta: serde_json::Map::new(),
        },
        Action::SubmitFlag {
            uid: 7,
            challenge_key: "web_x".into(),
            flag: "flag{x}".into(),
            meta: serde_json::Map::from_iter([("remote_addr".to_owned(), json!("10.0.0.1"))]),
        },
        Action::SubmitFeedback {
            uid: 7,
            challenge_key: "web_x".into(),
            content: "好题".into(),
        },
        Action::WorkerHello {
            worker_id: "worker-0".into(),
            protocol_version: PROTOCOL_VERSION.into(),
        },
        Action::WorkerHeartbeat {
            worker_id: "worker-0".into(),
            telemetry: Telemetry {
                state_counter: 42,
                tick: 3,
                game_available: true,
                n_users: 1000,
                n_submissions: 20000,
                ws_online_uids: 120,
                ws_online_clients: 150,
                extra,
            },
        },
        Action::FetchEvents {
            after: 41,
            epoch: 7,
        },
    ]
}

#[test]
fn glitter_every_action_round_trips_with_screaming_snake_type() {
    let actions = every_action();
    let mut seen = std::collections::HashSet::new();
    for action in &actions {
        let v = round_trip(action);
        assert_eq!(v["type"], action.type_name(), "{v}");
        assert!(Action::TYPE_NAMES.contains(&action.type_name()));
        seen.insert(action.type_name());
    }
    assert_eq!(
        seen.len(),
        Action::TYPE_NAMES.len(),
        "every action type is covered"
    );
}

#[test]
fn glitter_actions_decode_from_hand_written_json() {
    // What a worker in another language would send; unknown fields are ignored.
    let a: Action = serde_json::from_value(json!({
        "type": "SUBMIT_FLAG", "uid": 3, "challenge_key": "k", "flag": "f", "future_field": 1
    }))
    .unwrap();
    assert_eq!(
        a,
        Action::SubmitFlag {
            uid: 3,
            challenge_key: "k".into(),
            flag: "f".into(),
            meta: Default::default()
        }
    );
    let hb: Action = serde_json::from_value(json!({
        "type": "WORKER_HEARTBEAT", "worker_id": "py", "telemetry": {"state_counter": 5, "cpu": 0.5}
    }))
    .unwrap();
    let Action::WorkerHeartbeat { telemetry, .. } = hb else {
        panic!("{hb:?}")
    };
    assert_eq!(telemetry.state_counter, 5);
    assert_eq!(telemetry.n_users, 0);
    assert_eq!(telemetry.extra["cpu"], json!(0.5));
    assert!(serde_json::from_value::<Action>(json!({"type": "NOPE"})).is_err());
}

#[test]
fn glitter_reply_round_trips() {
    let ok = ActionReply::ok(12);
    assert_eq!(
        round_trip(&ok),
        json!({"error_msg": null, "state_counter": 12})
    );
    assert!(ok.is_ok());
    let err = ActionReply::error("Flag错误", 13);
    assert_eq!(round_trip(&err)["error_msg"], "Flag错误");
    let data = ActionReply::ok(14).with_data(json!({"uid": 99}));
    assert_eq!(round_trip(&data)["data"]["uid"], 99);
    let minimal: ActionReply =
        serde_json::from_value(json!({"error_msg": null, "state_counter": 1})).unwrap();
    assert_eq!(minimal, ActionReply::ok(1));
}

#[test]
fn glitter_every_event_kind_round_trips() {
    let wire_names = [
        "SYNC",
        "RELOAD_GAME_POLICY",
        "RELOAD_TRIGGER",
        "UPDATE_ANNOUNCEMENT",
        "UPDATE_CHALLENGE",
        "UPDATE_USER",
        "UPDATE_SUBMISSION",
        "NEW_SUBMISSION",
        "TICK_UPDATE",
        "PUSH",
        "SET_DYNAMIC_FLAG",
    ];
    for (kind, name) in EventKind::ALL.iter().zip(wire_names) {
        assert_eq!(kind.as_str(), name);
        let e = Event::new(*kind, 5, 77);
        let v = round_trip(&e);
        assert_eq!(
            v,
            json!({"kind": name, "state_counter": 5, "id": 77, "tick": 0})
        );
    }
    let sync = Event::sync(9, 4).with_epoch(123);
    assert_eq!(round_trip(&sync)["epoch"], 123);
    assert_eq!(round_trip(&Event::tick_update(10, 5))["tick"], 5);

    let push = Event::push(
        10,
        PushMessage {
            payload: json!({"type": "push", "title": "一血", "message": "web_x"}),
            to_groups: Some(vec!["pku".into()]),
            to_uids: None,
        },
    );
    let v = round_trip(&push);
    assert_eq!(v["kind"], "PUSH");
    assert_eq!(v["push"]["to_groups"], json!(["pku"]));
    assert_eq!(v["push"]["payload"]["title"], "一血");

    // A kind from a newer reducer decodes as Unknown instead of failing.
    let future: Event =
        serde_json::from_value(json!({"kind": "SOMETHING_NEW", "state_counter": 3})).unwrap();
    assert_eq!(future.kind, EventKind::Unknown);
    assert!(!EventKind::Unknown.changes_state());
    assert!(EventKind::NewSubmission.changes_state());
    assert!(!EventKind::Sync.changes_state());
}

#[test]
fn glitter_push_targeting() {
    let all = PushMessage::broadcast(json!({}));
    assert!(all.reaches(1, "pku"));
    let groups = PushMessage {
        to_groups: Some(vec!["pku".into()]),
        ..all.clone()
    };
    assert!(groups.reaches(1, "pku"));
    assert!(!groups.reaches(1, "other"));
    let uids = PushMessage {
        to_uids: Some(vec![5]),
        ..all.clone()
    };
    assert!(uids.reaches(5, "other"));
    assert!(!uids.reaches(6, "other"));
    let both = PushMessage {
        to_groups: Some(vec!["pku".into()]),
        to_uids: Some(vec![5]),
        ..all
    };
    assert!(both.reaches(5, "pku"));
    assert!(!both.reaches(5, "other"));
}
