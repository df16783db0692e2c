use std::collections::HashSet;

use movierec_data::{load, write_synthetic, LoadOptions, SynthConfig};

#[test]
fn synthetic_round_trip_is_deterministic() {
    let cfg = SynthConfig {
        users: 300,
        items: 500,
        ratings: 20_000,
        seed: 7,
        rank: 4,
        noise: 0.3,
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = write_synthetic(&cfg, a.path()).unwrap();
    let sb = write_synthetic(&cfg, b.path()).unwrap();
    assert_eq!(sa, sb);
    for f in ["ratings.csv", "movies.csv"] {
        let (x, y) = (
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs with one seed");
    }
    assert!(!a.path().join("ratings.csv.tmp").exists());

    let ds = load(a.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.ratings.len() as u64, cfg.ratings);
    assert_eq!(sa.ratings, cfg.ratings);
    assert_eq!((ds.users.len(), ds.items.len()), (sa.users, sa.items));
    assert_eq!(sa.users, cfg.users, "every user rates at least once");
    assert_eq!(ds.catalog.len(), cfg.items);
    assert_eq!(
        sa.bytes,
        std::fs::metadata(a.path().join("ratings.csv"))
            .unwrap()
            .len()
    );
    let pairs: HashSet<_> = ds
        .ratings
        .entries
        .iter()
        .map(|r| (r.user, r.item))
        .collect();
    assert_eq!(pairs.len(), ds.ratings.len(), "no duplicate pair");
    // Ratings span the half-star scale, and popularity is skewed.
    let values: HashSet<u32> = ds
        .ratings
        .entries
        .iter()
        .map(|r| (r.value * 2.0) as u32)
        .collect();
    assert!(values.len() >= 8, "ratings use most half stars: {values:?}");
    let mut per_item = vec![0usize; ds.items.len()];
    for r in &ds.ratings.entries {
        per_item[r.item.get()] += 1;
    }
    per_item.sort_unstable_by(|x, y| y.cmp(x));
    assert!(
        per_item[0] > 10 * per_item[per_item.len() / 2],
        "Zipf-like popularity"
    );

    let other = tempfile::tempdir().unwrap();
    write_synthetic(&SynthConfig { seed: 8, ..cfg }, other.path()).unwrap();
    assert_ne!(
        std::fs::read(other.path().join("ratings.csv")).unwrap(),
        std::fs::read(a.path().join("ratings.csv")).unwrap()
    );
}
