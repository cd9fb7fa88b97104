//! Runs the data benchmark: `cargo run --release -p mycel-bench --example bench_data [chunk_mib sources negatives words]`.

fn main() -> Result<(), mycel_data::Error> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut o = mycel_bench::data::BenchOptions::default();
    if let [c, s, n, w, ..] = args[..] {
        o.chunk_mib = c;
        o.sources = s;
        o.negatives = n;
        o.words = w;
    }
    mycel_bench::data::run(&o)
}
