//! `examples/embedded.rs`: the application it builds, served and used as its
//! documentation says.

use std::time::Duration;

use fallback::FallbackMode;
use tokio::net::TcpStream;
use web::{Secret, ServeOptions};

use crate::support::{Served, eventually, exchange_full, exchange_with_headers, get};

#[path = "../../examples/embedded.rs"]
#[allow(dead_code, reason = "the example's main is not run here")]
mod embedded;

fn post(path: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_example_sheds_recommendations_once_checkout_fails() {
    let (state, app) = embedded::build(Secret::new("example-admin-token-0123")).unwrap();
    let served = Served::start(app, ServeOptions::default()).await;
    let mut client = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(
        exchange_full(&mut client, &get("/recommendations")).await,
        (200, "personalized\n".to_owned())
    );
    assert_eq!(exchange_full(&mut client, &post("/checkout")).await.0, 200);
    assert_eq!(
        exchange_full(&mut client, &get("/ops/health/ready"))
            .await
            .0,
        200
    );
    for _ in 0..5 {
        assert_eq!(
            exchange_full(&mut client, &post("/checkout?fail=true"))
                .await
                .0,
            502
        );
    }
    eventually(
        "the mode to go heuristic",
        Duration::from_secs(5),
        || async { state.manager().get_current_mode() == FallbackMode::Heuristic },
    )
    .await;
    let (_, body) = exchange_full(&mut client, &get("/ops/fallback/mode")).await;
    assert!(body.contains("\"mode\":\"heuristic\""), "{body}");
    let (status, _, headers) = exchange_with_headers(&mut client, &get("/recommendations")).await;
    assert_eq!(status, 503);
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("30"));
    // Checkout is essential: still served (and still failing here).
    assert_eq!(exchange_full(&mut client, &post("/checkout")).await.0, 200);
    served.stop().await;
}
