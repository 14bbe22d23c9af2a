#[corun::test(cores = "2")]
async fn runs() {}

fn main() {}
