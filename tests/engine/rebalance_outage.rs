//! A plan run by a real `serve` whose control database goes away for 8 s
//! mid-plan: the process stays up, the plan goes on where it was once the
//! database is back, and every website moves exactly once.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app::TOKEN;
use crate::helpers::{TestEnv, dump};
use crate::service::BehindProxy;

async fn call(client: &reqwest::Client, base: &str, body: &Value) -> Value {
    let response = client
        .post(format!("{base}/api/v1/rebalances"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn completed(env: &TestEnv) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM shardmover.rebalance_moves WHERE state = 'completed'")
        .fetch_one(&env.control)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_plan_goes_on_where_it_was_after_the_control_database_was_away() {
    let env = TestEnv::new().await;
    let mut originals = Vec::new();
    for website in 1..=8 {
        env.seed(website, "shard_1", 2_000).await;
        originals.push(dump(&env.shard_1, website).await);
    }
    let mut served = BehindProxy::start(&env).await;
    let (base, client) = (served.base.clone(), served.client.clone());

    let mut plan = json!({"kind": "drain", "shard": "shard_1", "requested_by": "ops@example.com"});
    let preview = call(&client, &base, &plan).await;
    plan["confirmation_token"] = preview["confirmation_token"].clone();
    let started = call(&client, &base, &plan).await;
    assert!(started["id"].is_i64(), "{started}");

    let deadline = Instant::now() + Duration::from_secs(180);
    while completed(&env).await < 2 {
        assert!(Instant::now() < deadline, "the plan never got going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    served.proxy.cut();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "serve exited during the outage"
    );
    served.proxy.restore();

    while completed(&env).await < 8 {
        let logs = served.logs();
        assert!(Instant::now() < deadline, "the plan did not go on: {logs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    served.stop();
    for (website, original) in (1..=8).zip(&originals) {
        assert_eq!(
            &dump(&env.shard_2, website).await,
            original,
            "website {website}"
        );
        assert!(dump(&env.shard_1, website).await.is_empty());
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT website_id FROM shardmover.migrations
                                GROUP BY 1 HAVING count(*) > 1) t",
    )
    .fetch_one(&env.control)
    .await
    .unwrap();
    assert_eq!(twice, 0, "no website was moved twice");
}
