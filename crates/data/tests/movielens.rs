use std::path::PathBuf;

use movierec_data::{load, make_splits, LoadOptions, SplitConfig};

/// `MOVIELENS_DIR` (the ml-latest-small folder), or `None` with a note.
fn movielens_dir() -> Option<PathBuf> {
    movierec_data::dataset_for_tests(env!("CARGO_MANIFEST_DIR"), "data: the real-data test")
}

#[test]
fn ml_latest_small_loads() {
    let Some(dir) = movielens_dir() else { return };
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(ds.ratings.len(), 100_836);
    assert_eq!(ds.users.len(), 610);
    assert_eq!(ds.items.len(), 9_724);
    assert_eq!(ds.catalog.len(), 9_742);
    assert_eq!((ds.ratings.n_users, ds.ratings.n_items), (610, 9_724));
    assert_eq!(ds.timestamps.as_ref().map(Vec::len), Some(100_836));
    let toy = ds.catalog.get(1).unwrap();
    assert_eq!(
        (toy.title.as_str(), toy.year),
        ("Toy Story (1995)", Some(1995))
    );
    assert!(ds.catalog.link(1).is_some());
    // The report's protocol: 10% test, 10% of the rest as validation.
    let splits = make_splits(&ds.ratings, None, &SplitConfig::default()).unwrap();
    assert_eq!(splits[0].test.len(), 10_084);
    assert_eq!(splits[0].validation.len(), 9_075);
}

#[test]
fn ml_latest_small_2016_loads() {
    let Some(dir) = movielens_dir() else { return };
    let Some(old) = dir.parent().map(|p| p.join("ml-latest-small-2016")) else {
        return;
    };
    if !old.is_dir() {
        eprintln!("{} is missing: skipping", old.display());
        return;
    }
    let ds = load(&old, &LoadOptions::default()).unwrap();
    assert_eq!(ds.ratings.len(), 100_004);
    assert_eq!(ds.users.len(), 671);
    assert_eq!(ds.catalog.len(), 9_125);
}
