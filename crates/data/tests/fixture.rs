use std::path::Path;

use movierec_data::{load, Format, LoadOptions};

#[test]
fn tiny_fixture_loads_with_catalog() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny");
    let ds = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(ds.name, "tiny");
    assert_eq!(ds.format, Format::MovieLensCsv);
    assert_eq!(
        (ds.ratings.len(), ds.users.len(), ds.items.len()),
        (8, 3, 4)
    );
    assert_eq!(ds.items.raw_ids(), [10, 20, 30, 40]);
    assert_eq!(
        ds.catalog.len(),
        5,
        "movie 50 has no rating but stays in the catalog"
    );
    assert_eq!(ds.items.get(50), None, "and never enters the index space");
    let m = ds.catalog.get(10).unwrap();
    assert_eq!(
        (m.title.as_str(), m.year),
        ("Made-Up Story, The (1995)", Some(1995))
    );
    assert_eq!(m.genres, ["Adventure", "Animation", "Children"]);
    assert_eq!(ds.catalog.get(30).unwrap().year, Some(1999));
    let none = ds.catalog.get(40).unwrap();
    assert_eq!((none.year, none.genres.len()), (None, 0));
    assert_eq!(ds.catalog.tags(10), ["funny", "sad, then happy"]);
    assert_eq!(ds.catalog.link(20).unwrap().tmdb, None);
    assert_eq!(ds.timestamps.unwrap()[7], 1_000_000_008);
}
