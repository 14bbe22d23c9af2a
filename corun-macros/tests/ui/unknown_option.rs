#[corun::test(threads = 2)]
async fn runs() {}

fn main() {}
