#[corun::test(seed = 3, seeds = 100)]
async fn runs() {}

fn main() {}
