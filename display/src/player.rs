//! Announcements on the shared player ([`qcall_audio::player`]): the clip bank and options of
//! this display, queued back to back.

pub use qcall_audio::player::{render_offline, Output, Player, PlayerEvent};
use std::sync::mpsc;

/// Builds announcements from the clip bank and queues them on a [`Player`].
pub struct Announcer {
    pub bank: crate::voice::ClipBank,
    pub options: crate::announce::AnnounceOptions,
    pub player: Player,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnouncerError {
    #[error(transparent)]
    Announce(#[from] crate::announce::AnnounceError),
}

impl Announcer {
    /// Loads the clips from `voice_dir` and starts the player on `output`.
    pub fn new(
        voice_dir: &std::path::Path,
        options: crate::announce::AnnounceOptions,
        output: Output,
        events: Option<mpsc::Sender<PlayerEvent>>,
    ) -> Result<Announcer, crate::voice::VoiceError> {
        let bank = crate::voice::ClipBank::load(voice_dir)?;
        Ok(Announcer { bank, options, player: Player::spawn(output, events) })
    }

    /// Queues the announcement for `ticket` at counter `counter`; returns its id.
    pub fn announce(&self, ticket: &str, counter: u32) -> Result<u64, AnnouncerError> {
        let a = crate::announce::build(ticket, counter, &self.options)?;
        Ok(self.player.play(self.bank.format, self.bank.render(&a)))
    }
}
