//! The display's voice clips on disk and rendering an announcement to samples. The WAV and
//! clip-set code is shared with the kiosk in [`qcall_audio`].

use std::path::{Path, PathBuf};

pub use qcall_audio::{from_f32, read_wav, to_f32, write_wav, Format, VoiceError};
use qcall_audio::Clips;

use crate::announce::{Announcement, Clip, Segment};

/// Every clip an announcement can use, loaded into memory as 16-bit samples.
#[derive(Debug, Clone)]
pub struct ClipBank {
    pub dir: PathBuf,
    pub format: Format,
    clips: Clips,
}

impl ClipBank {
    /// Loads every clip of [`Clip::all`] from `dir`; any missing or differently formatted file is
    /// an error naming it.
    pub fn load(dir: &Path) -> Result<ClipBank, VoiceError> {
        let clips = Clips::load(dir, Clip::all().iter().map(Clip::name))?;
        Ok(ClipBank { dir: dir.to_path_buf(), format: clips.format, clips })
    }

    pub fn clip(&self, clip: Clip) -> &[i16] {
        // `load` loaded every clip of `Clip::all`.
        self.clips.get(&clip.name())
    }

    /// Number of interleaved samples in `ms` milliseconds of silence.
    pub fn silence_len(&self, ms: u32) -> usize {
        self.format.samples_in(ms)
    }

    /// The announcement as one run of interleaved samples: clips and pauses back to back.
    pub fn render(&self, a: &Announcement) -> Vec<i16> {
        let mut out = Vec::new();
        for seg in &a.segments {
            match seg {
                Segment::Clip(c) => out.extend_from_slice(self.clip(*c)),
                Segment::Silence { ms } => out.resize(out.len() + self.silence_len(*ms), 0),
            }
        }
        out
    }
}
