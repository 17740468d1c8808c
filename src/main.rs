fn main() {
    std::process::exit(coracle::cmd::main());
}
