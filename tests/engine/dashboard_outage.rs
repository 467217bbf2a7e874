//! With the control database down every dashboard page still answers: a page
//! saying 503 `database_unavailable`, as the API would, never a 500 or a blank.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use shardmover::api::{self, AppState};

use crate::app::{TOKEN, TestApp};
use crate::helpers::TestEnv;
use crate::operator::Operator;

#[tokio::test]
async fn every_page_says_503_database_unavailable_while_the_control_database_is_down() {
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    settings.api.token = Some(SecretString::from(TOKEN));
    let down = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nowhere")
        .unwrap();
    let mover = Arc::new(crate::helpers::new_mover(Arc::new(settings), down));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        app: mover.app().clone(),
        workers: None,
    };
    tokio::spawn(api::server(listener, state).unwrap());
    let app = TestApp {
        env,
        address,
        client: reqwest::Client::new(),
        mover,
    };
    let operator = Operator::sign_in(&app).await;
    for path in [
        "/ui",
        "/ui/moves",
        "/ui/moves/1",
        "/ui/moves/1/live",
        "/ui/websites/7",
        "/ui/shards/shard_1",
        "/ui/audit",
        "/ui/rebalances",
        "/ui/rebalances/1",
        "/ui/rebalances/1/live",
    ] {
        let page = operator.get(path).await;
        assert_eq!(
            page.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            page.body
        );
        assert!(
            page.body.contains("database_unavailable") && page.body.contains("retry later"),
            "{path}: {}",
            page.body
        );
    }
}
