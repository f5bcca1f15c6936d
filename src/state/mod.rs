//! The in-RAM game state: pure logic, no IO, no async.
//! Rebuilt from rows; answers are JSON values, push messages are values for the transport.
