//! Revocations shared through a real Redis server: a `jti` revoked on one
//! replica (admin endpoint) or written to Redis directly is refused by every
//! replica, and stays refused while Redis is down.

use crate::support::auth::{self, ADMIN_TOKEN, Keys, claims};
use crate::support::http::Req;
use crate::support::peers::RedisServer;
use crate::support::{Gateway, Recorder};
use serde_json::json;
use std::time::{Duration, Instant};

async fn replica(upstream: &Recorder, keys: &Keys, redis: &RedisServer) -> Gateway {
    let section = auth::section(keys, "").replace(
        "  revocation:\n",
        &format!(
            "  revocation:\n    redis:\n      url: {}\n      poll_interval: 200ms\n",
            redis.url
        ),
    );
    let yaml = crate::support::gateway::default_yaml(&upstream.url())
        .replace("authentication:\n  mode: none\n", &section);
    Gateway::start_yaml(&yaml).await
}

async fn until_refused(gw: &Gateway, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while auth::call(gw, Some(token)).await.status != 401 {
        assert!(Instant::now() < deadline, "still accepted after 10s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_jti_revoked_on_one_replica_is_refused_by_every_replica() {
    let mut redis = RedisServer::start().await;
    let keys = Keys::generate().await;
    let upstream = Recorder::ok().await;
    let a = replica(&upstream, &keys, &redis).await;
    let b = replica(&upstream, &keys, &redis).await;
    let (c1, c2) = (claims(), claims());
    let revoked = keys.token(json!({"alg": "ES256", "claims": c1})).await;
    let direct = keys.token(json!({"alg": "ES256", "claims": c2})).await;
    let other = keys
        .token(json!({"alg": "ES256", "claims": claims()}))
        .await;
    for gw in [&a, &b] {
        for t in [&revoked, &direct, &other] {
            assert_eq!(auth::call(gw, Some(t)).await.status, 200);
        }
    }

    // Revoked through replica A's admin endpoint: B learns it from Redis.
    let admin = format!("http://{}/authn/revocations", a.admin.unwrap());
    let reply = Req::post(&admin)
        .header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .body(json!({"jti": c1["jti"], "exp": auth::now() + 300}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(auth::call(&a, Some(&revoked)).await.status, 401);
    until_refused(&b, &revoked).await;

    // Written to Redis by another tool: both replicas pick it up.
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("ZADD")
        .arg("portcullis:revoked")
        .arg(auth::now() + 300)
        .arg(c2["jti"].as_str().unwrap())
        .query_async(&mut con)
        .await
        .unwrap();
    until_refused(&a, &direct).await;
    until_refused(&b, &direct).await;

    // Redis goes away: the mirror stays in force, other tokens still work.
    redis.stop().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    for gw in [&a, &b] {
        assert_eq!(auth::call(gw, Some(&revoked)).await.status, 401);
        assert_eq!(auth::call(gw, Some(&direct)).await.status, 401);
        assert_eq!(auth::call(gw, Some(&other)).await.status, 200);
    }
    let reply = Req::post(&admin)
        .header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .body(json!({"jti": "later", "exp": auth::now() + 300}))
        .send()
        .await;
    assert_eq!(
        reply.status, 502,
        "the admin is told the revocation is not shared"
    );
}
