#[corun::main]
async fn start() {}

fn main() {}
