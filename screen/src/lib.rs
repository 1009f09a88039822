//! Slint without a window system: a [`MinimalSoftwareWindow`] platform whose clock can be moved
//! forward (animations finish without waiting), full frames from the software renderer, and
//! PNG files. The kiosk and the hall display take their screenshots and measure their frames
//! with it.
//!
//! Slint has one platform per process: call [`Headless::install`] once, before creating any
//! component.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{PhysicalSize, Rgb8Pixel};

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("headless renderer: {0}")]
    Platform(String),
    #[error("writing {path}: {reason}")]
    Png { path: String, reason: String },
}

impl From<slint::PlatformError> for ScreenError {
    fn from(e: slint::PlatformError) -> Self {
        ScreenError::Platform(e.to_string())
    }
}

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
    skew: Rc<Cell<Duration>>,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed() + self.skew.get()
    }
}

/// The process's one headless window.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    skew: Rc<Cell<Duration>>,
    width: u32,
    height: u32,
    buffer: Vec<Rgb8Pixel>,
}

impl Headless {
    /// Installs the headless platform with a window of this size. Components created after
    /// this show in it.
    pub fn install(width: u32, height: u32) -> Result<Headless, ScreenError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        let skew = Rc::new(Cell::new(Duration::ZERO));
        slint::platform::set_platform(Box::new(HeadlessPlatform { window: window.clone(), start: Instant::now(), skew: skew.clone() }))
            .map_err(|e| ScreenError::Platform(e.to_string()))?;
        window.set_size(PhysicalSize::new(width, height));
        let buffer = vec![Rgb8Pixel::default(); (width * height) as usize];
        Ok(Headless { window, skew, width, height, buffer })
    }

    pub fn window(&self) -> &Rc<MinimalSoftwareWindow> {
        &self.window
    }

    /// Moves the renderer's clock forward (finishes running animations).
    pub fn advance(&self, d: Duration) {
        self.skew.set(self.skew.get() + d);
    }

    /// Renders a frame if anything changed since the last one; returns whether it drew.
    pub fn draw_if_needed(&mut self) -> bool {
        slint::platform::update_timers_and_animations();
        let width = self.width as usize;
        let buffer = &mut self.buffer;
        self.window.draw_if_needed(|renderer| {
            renderer.render(buffer, width);
        })
    }

    /// Renders a full frame now.
    pub fn frame(&mut self) -> Frame {
        self.window.request_redraw();
        self.draw_if_needed();
        let rgb = self.buffer.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        Frame { width: self.width, height: self.height, rgb }
    }
}

/// An RGB frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// Row-major RGB, 3 bytes a pixel.
    pub rgb: Vec<u8>,
}

impl Frame {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    pub fn write_png(&self, path: &Path) -> Result<(), ScreenError> {
        write_png(path, self.width, self.height, png::ColorType::Rgb, &self.rgb)
    }
}

/// Writes 8-bit pixels (`Rgb`: 3 bytes a pixel, `Rgba`: 4) as a PNG file.
pub fn write_png(path: &Path, width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Result<(), ScreenError> {
    let err = |reason: String| ScreenError::Png { path: path.display().to_string(), reason };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
    w.write_image_data(data).map_err(|e| err(e.to_string()))?;
    w.finish().map_err(|e| err(e.to_string()))
}

pub use png::ColorType;
