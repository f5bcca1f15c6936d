//! Staff notifications of the actions the reducer executes (it sees each exactly once,
//! whatever the number of workers): sent after the batch is committed, never before.

use super::Reducer;
use crate::glitter::Action;
use crate::notify::messages;

/// Tells the staff about the committed actions of a batch that concern them (feedback).
pub fn after_commit<'a>(
    r: &Reducer,
    committed: impl Iterator<Item = (&'a Action, &'a super::actions::Outcome)>,
) {
    for (action, outcome) in committed {
        let accepted = matches!(outcome, Ok(reply) if reply.error_msg.is_none());
        if let (
            true,
            Action::SubmitFeedback {
                uid,
                challenge_key,
                content,
            },
        ) = (accepted, action)
        {
            let (channel, text) = messages::feedback(&r.game, *uid, challenge_key, content);
            r.notifier.notify(&channel, text);
        }
    }
}
