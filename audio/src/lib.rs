//! qcall voice, shared by the hall display (call announcements) and the kiosk (spoken guidance):
//!
//! - WAV clips: [`read_wav`], [`write_wav`], and [`Clips`], a named set of clips that must all
//!   share one format.
//! - [`player`]: the audio thread (rodio) that plays sample runs back to back, or renders them
//!   offline where there is no sound card.
//! - [`numbers`]: numbers as words, in Mandarin and English.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub mod numbers;
pub mod player;

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

impl Format {
    /// Number of interleaved samples in `ms` milliseconds.
    pub fn samples_in(&self, ms: u32) -> usize {
        (self.sample_rate as u64 * ms as u64 / 1000) as usize * self.channels as usize
    }
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

/// Clips by name (file name under the voice folder, without `.wav`), loaded into memory as
/// 16-bit samples, all in one format.
#[derive(Debug, Clone)]
pub struct Clips {
    pub dir: PathBuf,
    pub format: Format,
    clips: BTreeMap<String, Vec<i16>>,
}

impl Clips {
    /// Loads every clip of `names` from `dir`; a missing, empty or differently formatted file
    /// is an error naming it.
    pub fn load(dir: &Path, names: impl IntoIterator<Item = String>) -> Result<Clips, VoiceError> {
        let mut clips = BTreeMap::new();
        let mut first: Option<(PathBuf, Format)> = None;
        for name in names {
            let path = dir.join(format!("{name}.wav"));
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
            clips.insert(name, samples);
        }
        let Some((_, format)) = first else {
            return Err(VoiceError::Clip { path: dir.to_path_buf(), reason: "no clips asked for".into() });
        };
        Ok(Clips { dir: dir.to_path_buf(), format, clips })
    }

    /// The samples of a clip that `load` was asked for.
    ///
    /// # Panics
    /// When `name` was not among the loaded names (a programming error).
    pub fn get(&self, name: &str) -> &[i16] {
        match self.clips.get(name) {
            Some(c) => c,
            None => panic!("clip {name} was not loaded"),
        }
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
