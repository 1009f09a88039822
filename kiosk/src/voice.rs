//! Playing the guidance ([`crate::guide`]): [`Voice`] turns a prompt into samples from the clips
//! on disk; [`Guide`] plays them through rodio on the audio thread of [`qcall_audio::player`].
//! A new prompt cuts off the one being spoken: the screen has moved on.

use std::path::Path;

use qcall_audio::player::{Output, Player, PlayerEvent};
use qcall_audio::{Clips, Format, VoiceError};

use crate::config::Language;
use crate::guide::{self, Prompt, Segment};

/// The guidance clips, in memory.
pub struct Voice {
    clips: Clips,
}

impl Voice {
    /// Loads every clip of [`guide::all_clips`] from `dir`: any missing or differently formatted
    /// file is an error naming it.
    pub fn load(dir: &Path) -> Result<Voice, VoiceError> {
        Ok(Voice { clips: Clips::load(dir, guide::all_clips())? })
    }

    pub fn format(&self) -> Format {
        self.clips.format
    }

    /// The samples of `prompt` in `lang`: its clips and pauses back to back.
    pub fn render(&self, prompt: &Prompt, lang: Language) -> Vec<i16> {
        let mut out = vec![];
        for seg in guide::build(prompt, lang) {
            match seg {
                Segment::Clip(name) => out.extend_from_slice(self.clips.get(&name)),
                Segment::Silence { ms } => out.resize(out.len() + self.clips.format.samples_in(ms), 0),
            }
        }
        out
    }
}

/// The voice and the player the kiosk speaks with.
pub struct Guide {
    voice: Voice,
    player: Player,
}

impl Guide {
    pub fn new(voice: Voice, output: Output, events: Option<std::sync::mpsc::Sender<PlayerEvent>>) -> Guide {
        Guide { voice, player: Player::spawn(output, events) }
    }

    /// Says `prompt` now, instead of whatever is being said; returns the player's id for it.
    pub fn say(&self, prompt: &Prompt, lang: Language) -> u64 {
        tracing::debug!(?prompt, ?lang, "guidance");
        self.player.clear();
        self.player.play(self.voice.format(), self.voice.render(prompt, lang))
    }
}
