//! Tests of `bench`.

use super::{Row, Summary, row, table, to_json};

fn transcript() -> Vec<String> {
    [
        "LookasideList:   Stress: 1000 alloc+free pairs per thread, 2 thread(s)",
        "LookasideList:   Stress slist-floor: 12.5 ns per pair, 2 thread(s)",
        "LookasideList:   Stress lookaside-inline: 30.1 ns per pair, 2 thread(s), 2.40x the floor",
        "LookasideList:   Stress pool: 150.0 ns per pair, 2 thread(s), 4.98x the lookaside list",
        "LookasideList:   Stress hit rate: 99.95% (1 misses in 2000 allocations, 0 failed)",
        "LookasideList:   Stress tallies balance: 6000 blocks allocated and 6000 freed, 0 allocations failed",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn reads_the_stress_lines() {
    let transcript = transcript();
    let row = row(&transcript, 2, "per-processor").expect("a row");
    assert_eq!(row.path, "inline");
    assert_eq!(row.list, "per-processor");
    assert!((row.floor_ns - 12.5).abs() < 1e-9);
    assert!((row.lookaside_ns - 30.1).abs() < 1e-9);
    assert!((row.pool_ns - 150.0).abs() < 1e-9);
    assert!((row.hit_rate - 99.95).abs() < 1e-9);
    assert!(row.balanced);
    assert!(super::row(&transcript[..2], 2, "shared").is_none());
    let unbalanced: Vec<String> = transcript[..5].to_vec();
    assert!(!super::row(&unbalanced, 2, "shared").unwrap().balanced);
}

fn turn(floor_ns: f64, lookaside_ns: f64) -> Row {
    Row {
        threads: 1,
        path: "exported".into(),
        list: "shared".into(),
        floor_ns,
        lookaside_ns,
        pool_ns: lookaside_ns * 3.0,
        hit_rate: 100.0,
        balanced: true,
    }
}

#[test]
fn turns_give_medians_and_the_spread_of_the_ratios() {
    // Ratios 1.0, 1.2, 1.1: median 1.1, spread 0.1 / 1.1.
    let summary = Summary::of(&[turn(20.0, 20.0), turn(15.0, 18.0), turn(10.0, 11.0)]);
    assert!((summary.median.floor_ns - 15.0).abs() < 1e-9);
    assert!((summary.median.lookaside_ns - 18.0).abs() < 1e-9);
    assert!((summary.floor_ratio.0 - 1.1).abs() < 1e-9);
    assert!((summary.floor_ratio.1 - 0.1 / 1.1).abs() < 1e-9);
    let table = table(1000, 3, &[summary]);
    assert!(table.contains("1.10x ±  9%"), "{table}");
    assert!(!table.contains("too wide"), "{table}");
    let wide = Summary::of(&[turn(10.0, 10.0), turn(10.0, 20.0)]);
    assert!(table_of(&wide).contains("too wide to trust"));
}

fn table_of(summary: &Summary) -> String {
    let Summary {
        median,
        floor_ratio,
        pool_ratio,
    } = summary;
    let copy = Summary {
        median: Row {
            path: median.path.clone(),
            list: median.list.clone(),
            ..*median
        },
        floor_ratio: *floor_ratio,
        pool_ratio: *pool_ratio,
    };
    table(1000, 2, &[copy])
}

#[test]
fn json_keeps_the_earlier_fields_and_adds_the_ratios_and_spreads() {
    let summary = Summary::of(&[turn(18.2, 33.4)]);
    let json = to_json(1_000_000, 1, &[summary]);
    assert_eq!(
        (json["pairs"].as_u64(), json["turns"].as_u64()),
        (Some(1_000_000), Some(1))
    );
    let row = &json["rows"][0];
    for (field, value) in [
        ("threads", serde_json::json!(1)),
        ("api_path", serde_json::json!("exported")),
        ("list", serde_json::json!("shared")),
        ("floor_ns", serde_json::json!(18.2)),
        ("lookaside_ns", serde_json::json!(33.4)),
        ("hit_rate", serde_json::json!(100.0)),
        ("lookaside_floor_ratio", serde_json::json!(1.835)),
        ("lookaside_floor_spread", serde_json::json!(0.0)),
    ] {
        assert_eq!(row[field], value, "{field}: {json}");
    }
    for field in ["pool_ns", "pool_lookaside_ratio", "pool_lookaside_spread"] {
        assert!(row[field].is_number(), "{field}: {json}");
    }
}
