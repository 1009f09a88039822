fn main() {
    // Fonts and images are embedded so the kiosk draws Chinese on any machine.
    let config = slint_build::CompilerConfiguration::new().embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    slint_build::compile_with_config("ui/kiosk.slint", config).expect("compile kiosk/ui/kiosk.slint");
}
