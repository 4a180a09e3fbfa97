//! The shared glob matcher answers exactly as the server's own `SCAN ... MATCH` on random
//! patterns and keys.

use std::collections::BTreeSet;

use proptest::prelude::*;
use redis::AsyncCommands;
use storage::GlobPattern;
use storage_redis::testing::RedisServer;

use crate::raw;

fn atoms(list: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(list), 0..max).prop_map(|atoms| atoms.concat())
}

async fn server_matches(
    connection: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(connection)
            .await
            .unwrap();
        found.extend(page);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

#[test]
fn matcher_agrees_with_redis_scan_match() {
    let Some(server) = RedisServer::start_or_skip("matcher_agrees_with_redis") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connection = runtime.block_on(raw(&server));
    let pattern_atoms = &["a", "b", "*", "?", "[", "]", "^", "-", "\\", "é", "z"];
    let key_atoms = &["a", "b", "-", "]", "[", "*", "é", "\\", "^", "z"];
    let strategy = (
        atoms(pattern_atoms, 8),
        prop::collection::btree_set(atoms(key_atoms, 6), 1..12),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(400));
    let outcome = runner.run(&strategy, |(pattern, keys)| {
        let mut connection = connection.clone();
        let server_answer = runtime.block_on(async {
            let _: () = redis::cmd("FLUSHDB")
                .query_async(&mut connection)
                .await
                .unwrap();
            for key in &keys {
                let _: () = connection.set(key, 1).await.unwrap();
            }
            server_matches(&mut connection, &pattern).await
        });
        let glob = GlobPattern::new(&pattern);
        let ours: BTreeSet<String> = keys
            .iter()
            .filter(|key| glob.matches(key))
            .cloned()
            .collect();
        prop_assert_eq!(ours, server_answer, "pattern {:?}", pattern);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
