//! What a select hands back for the operation it chose, and how completing
//! (or abandoning) that operation settles the channel.
//!
//! crossbeam's `select` splits an operation in two: selection commits to one
//! operation, and `SelectedOperation::recv`/`send` completes it. Selection
//! only *reserves*: a buffered message promised to this receive, a claimed
//! sender that moves its message into an entry for it, a buffer slot for a
//! send, a claimed receiver waiting for exactly this message. Selection
//! never moves, reads or drops a message (what makes `Select` `Send` and
//! `Sync`, see `select.rs`); the message moves here, in [`Selected::recv`]
//! and [`Selected::send`], on the thread that completes the operation with
//! the typed handle.

use std::sync::Arc;

use super::chan::Chan;
use super::entry::Entry;
use super::error::{RecvError, SendError};

/// The committed half of a selected operation.
pub(crate) enum Token<T> {
    /// Receive: the first buffered message not promised yet was promised to
    /// this receive (see `promised` in `chan.rs`).
    Promised,
    /// Receive: a sender filled the message into this entry of ours.
    Filled(Arc<Entry<T>>),
    /// Receive: the channel is empty and disconnected.
    RecvDisconnected,
    /// Receive: a sender (a select's send arm, or a plain sender that was
    /// woken for it) was claimed and will fill this entry.
    FromPartner(Arc<Entry<T>>),
    /// Send: a buffer slot is reserved (bounded channel).
    Reserved,
    /// Send: an unbounded channel always has room.
    Unbounded,
    /// Send: this claimed receiver waits for the message.
    ToPartner(Arc<Entry<T>>),
    /// Send: every receiver is gone.
    SendDisconnected,
}

/// A token bound to its channel. Completing it finishes the operation;
/// dropping it instead releases what was reserved (without touching a
/// message: one already handed over is leaked, see
/// [`Entry::abandon_leaking_message`]).
pub(crate) struct Selected<T> {
    chan: Arc<Chan<T>>,
    token: Option<Token<T>>,
}

impl<T> Selected<T> {
    pub(crate) fn new(chan: Arc<Chan<T>>, token: Token<T>) -> Self {
        Selected {
            chan,
            token: Some(token),
        }
    }

    /// The channel this token belongs to (its identity checks completion).
    pub(crate) fn chan(&self) -> &Arc<Chan<T>> {
        &self.chan
    }

    /// Completes a selected receive.
    pub(crate) fn recv(mut self) -> Result<T, RecvError> {
        match self.token.take().expect("a token completes once") {
            Token::Promised => Ok(self.chan.recv_promised()),
            Token::Filled(e) => Ok(e
                .take_message()
                .expect("a filled select entry holds its message")),
            Token::RecvDisconnected => Err(RecvError),
            Token::FromPartner(r) => match self.chan.wait_partner(r) {
                Some(m) => Ok(m),
                // The sender withdrew (it was unwound, or a sending select
                // dropped its `SelectedOperation`): receive the ordinary way.
                None => self.chan.recv_timed(None).map_err(|_| RecvError),
            },
            _ => unreachable!("a send operation completed as a receive"),
        }
    }

    /// Completes a selected send.
    pub(crate) fn send(mut self, msg: T) -> Result<(), SendError<T>> {
        match self.token.take().expect("a token completes once") {
            Token::SendDisconnected => Err(SendError(msg)),
            Token::Reserved => self.chan.send_selected(msg, true),
            Token::Unbounded => self.chan.send_selected(msg, false),
            Token::ToPartner(r) => match r.fill(msg) {
                Ok(()) => {
                    r.publish();
                    Ok(())
                }
                Err(msg) => {
                    // The receiver was unwound meanwhile: send normally.
                    r.publish();
                    self.chan
                        .send(msg, None)
                        .map_err(|e| SendError(e.into_inner()))
                }
            },
            _ => unreachable!("a receive operation completed as a send"),
        }
    }
}

impl<T> Selected<T> {
    /// [`recv`](Self::recv) for a big message, boxed (`chan/big.rs`).
    pub(crate) fn recv_boxed(mut self) -> Result<Box<T>, RecvError> {
        match self.token.take().expect("a token completes once") {
            Token::Promised => Ok(self.chan.recv_promised_boxed()),
            Token::Filled(e) => Ok(e
                .take_message_boxed()
                .expect("a filled select entry holds its message")),
            Token::RecvDisconnected => Err(RecvError),
            Token::FromPartner(r) => match self.chan.wait_partner_boxed(r) {
                Some(m) => Ok(m),
                None => self.chan.recv_boxed(None).map_err(|_| RecvError),
            },
            _ => unreachable!("a send operation completed as a receive"),
        }
    }

    /// [`send`](Self::send) for a big message, boxed (`chan/big.rs`).
    pub(crate) fn send_boxed(mut self, msg: Box<T>) -> Result<(), SendError<Box<T>>> {
        match self.token.take().expect("a token completes once") {
            Token::SendDisconnected => Err(SendError(msg)),
            Token::Reserved => self.chan.send_selected_boxed(msg, true),
            Token::Unbounded => self.chan.send_selected_boxed(msg, false),
            Token::ToPartner(r) => {
                let filled = r.fill_boxed(msg);
                r.publish();
                match filled {
                    Ok(()) => Ok(()),
                    // The receiver was unwound meanwhile: send normally.
                    Err(msg) => self
                        .chan
                        .send_boxed(msg, None)
                        .map_err(|e| SendError(e.into_inner())),
                }
            }
            _ => unreachable!("a receive operation completed as a send"),
        }
    }
}

impl<T> Drop for Selected<T> {
    fn drop(&mut self) {
        match self.token.take() {
            Some(Token::Promised) => self.chan.release_promise(),
            Some(Token::Filled(e)) => {
                // The message stays in the entry, leaked with it.
                let _ = e.abandon_leaking_message();
            }
            Some(Token::FromPartner(r)) => {
                // A message the partner filled in already is leaked.
                let _ = r.abandon_leaking_message();
            }
            Some(Token::Reserved) => self.chan.release_reservation(),
            Some(Token::ToPartner(r)) => r.retry(),
            _ => {}
        }
    }
}
