//! The in-RAM game state: pure logic, no IO, no async, no clock.
//! Rebuilt from rows; answers are JSON values, push messages are values for the transport.

pub mod actions;
pub mod announcement;
pub mod answers;
pub mod board;
pub mod challenge;
pub mod change;
pub mod ctftime;
pub mod dynamic;
pub mod flag;
pub mod game;
pub mod police;
pub mod policy;
pub mod problem_log;
pub mod profile;
pub mod push;
pub(crate) mod python;
pub mod render_cache;
pub mod submission;
pub mod template;
pub mod trigger;
pub mod uid_index;
pub mod user;

pub use change::Change;
pub use game::{Game, GameOptions, RowProblem};
pub use problem_log::ProblemLog;
pub use push::PushMessage;
