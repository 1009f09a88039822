//! The voice clips on disk and rendering an announcement to samples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::announce::{Announcement, Clip, Segment};

#[derive(Debug, Error)]
pub enum VoiceError {
    #[error("voice clip {path}: {reason}")]
    Clip { path: PathBuf, reason: String },
    #[error("voice clip {path} is {got}, but {first} is {want}: every clip needs the same format")]
    Format { path: PathBuf, got: String, first: PathBuf, want: String },
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Sample rate and channel count shared by every clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub sample_rate: u32,
    pub channels: u16,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Hz, {} channel(s)", self.sample_rate, self.channels)
    }
}

/// All clips, loaded into memory as 16-bit samples.
#[derive(Debug, Clone)]
pub struct ClipBank {
    pub dir: PathBuf,
    pub format: Format,
    clips: BTreeMap<Clip, Vec<i16>>,
}

/// Reads a WAV file as interleaved 16-bit samples.
pub fn read_wav(path: &Path) -> Result<(Format, Vec<i16>), VoiceError> {
    let err = |reason: String| VoiceError::Clip { path: path.to_path_buf(), reason };
    let reader = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(err(format!(
            "must be 16-bit integer PCM, is {}-bit {:?}",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    let samples = reader.into_samples::<i16>().collect::<Result<Vec<_>, _>>().map_err(|e| err(e.to_string()))?;
    Ok((Format { sample_rate: spec.sample_rate, channels: spec.channels }, samples))
}

impl ClipBank {
    /// Loads every clip of [`Clip::all`] from `dir`; any missing or differently formatted file is
    /// an error naming it.
    pub fn load(dir: &Path) -> Result<ClipBank, VoiceError> {
        let mut clips = BTreeMap::new();
        let mut first: Option<(PathBuf, Format)> = None;
        for clip in Clip::all() {
            let path = dir.join(format!("{}.wav", clip.name()));
            let (format, samples) = read_wav(&path)?;
            if samples.is_empty() {
                return Err(VoiceError::Clip { path, reason: "holds no samples".into() });
            }
            match &first {
                None => first = Some((path.clone(), format)),
                Some((first_path, want)) if *want != format => {
                    return Err(VoiceError::Format {
                        path,
                        got: format.to_string(),
                        first: first_path.clone(),
                        want: want.to_string(),
                    })
                }
                Some(_) => {}
            }
            clips.insert(clip, samples);
        }
        let format = first.map(|(_, f)| f).expect("Clip::all is not empty");
        Ok(ClipBank { dir: dir.to_path_buf(), format, clips })
    }

    pub fn clip(&self, clip: Clip) -> &[i16] {
        // `load` checked that every clip of `Clip::all` is there.
        &self.clips[&clip]
    }

    /// Number of interleaved samples in `ms` milliseconds of silence.
    pub fn silence_len(&self, ms: u32) -> usize {
        (self.format.sample_rate as u64 * ms as u64 / 1000) as usize * self.format.channels as usize
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

/// Writes 16-bit samples to a WAV file.
pub fn write_wav(path: &Path, format: Format, samples: &[i16]) -> Result<(), VoiceError> {
    let err = |e: hound::Error| VoiceError::Write { path: path.to_path_buf(), reason: e.to_string() };
    let spec = hound::WavSpec {
        channels: format.channels,
        sample_rate: format.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for s in samples {
        w.write_sample(*s).map_err(err)?;
    }
    w.finalize().map_err(err)
}

/// i16 -> f32 as rodio carries samples; [`from_f32`] turns it back exactly.
pub fn to_f32(s: i16) -> f32 {
    s as f32 / 32768.0
}

pub fn from_f32(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}
