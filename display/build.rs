fn main() {
    slint_build::compile("ui/app.slint").expect("compile display/ui/app.slint");
}
