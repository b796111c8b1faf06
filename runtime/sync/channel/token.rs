//! What a select hands back for the operation it chose, and how completing
//! (or abandoning) that operation settles the channel.
//!
//! crossbeam's `select` splits an operation in two: selection commits to one
//! operation, and `SelectedOperation::recv`/`send` completes it. A receive is
//! performed at selection (the message is taken). A send cannot be — its
//! message is only evaluated once its arm was chosen — so selection
//! *reserves* the capacity: a buffer slot, or a claimed receiver waiting for
//! exactly this message.

use std::sync::Arc;

use super::chan::Chan;
use super::entry::Entry;
use super::error::{RecvError, SendError};

/// The committed half of a selected operation.
pub(crate) enum Token<T> {
    /// Receive: the message, already taken from the channel.
    Msg(T),
    /// Receive: the channel is empty and disconnected.
    RecvDisconnected,
    /// Receive: a select's send arm was claimed and will fill this entry.
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
/// dropping it instead releases what was reserved.
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
            Token::Msg(m) => Ok(m),
            Token::RecvDisconnected => Err(RecvError),
            Token::FromPartner(r) => match self.chan.wait_partner(r) {
                Some(m) => Ok(m),
                // The sending select withdrew (it was unwound, or dropped
                // its `SelectedOperation`): receive the ordinary way.
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

impl<T> Drop for Selected<T> {
    fn drop(&mut self) {
        match self.token.take() {
            Some(Token::FromPartner(r)) => {
                // The partner's message (if it came already) is dropped here.
                drop(r.abandon());
            }
            Some(Token::Reserved) => self.chan.release_reservation(),
            Some(Token::ToPartner(r)) => r.retry(),
            _ => {}
        }
    }
}
