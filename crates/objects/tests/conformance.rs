//! One conformance suite for every object-store backend: each case is written once
//! against `Objects` and run against the local filesystem (a temp dir) and a real
//! S3-compatible server (`HOTLINE_TEST_S3`, default `http://127.0.0.1:19000`, s3s-fs
//! with access key `hotline`, secret `hotline-secret`, bucket `hotline-test`).
//!
//! Every case uses tenant ids of its own, so cases run in parallel against one bucket.

use std::future::Future;
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hotline_core::TenantId;
use hotline_objects::{Error, ObjectMeta, Objects, ObjectsConfig};
use object_store::ObjectStoreExt;

// ---------------------------------------------------------------------------------
// Harness

const DEFAULT_S3: &str = "http://127.0.0.1:19000";
const BUCKET: &str = "hotline-test";
const ACCESS_KEY: &str = "hotline";
const SECRET_KEY: &str = "hotline-secret";

fn s3_endpoint() -> String {
    std::env::var("HOTLINE_TEST_S3").unwrap_or_else(|_| DEFAULT_S3.to_owned())
}

fn s3_config(endpoint: &str, secret: &str) -> ObjectsConfig {
    ObjectsConfig::S3 {
        bucket: BUCKET.to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: endpoint.to_owned(),
        access_key_id: ACCESS_KEY.to_owned(),
        secret_access_key: secret.to_owned(),
        allow_http: true,
    }
}

/// Fails fast, and says what to start, when the S3 server is not listening.
fn require_s3(endpoint: &str) -> Result<()> {
    let authority = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/');
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("HOTLINE_TEST_S3 {endpoint:?} is not host:port"))?
        .next()
        .with_context(|| format!("HOTLINE_TEST_S3 {endpoint:?} resolves to nothing"))?;
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).with_context(|| {
        format!(
            "S3-compatible server unreachable at {endpoint} (start s3s-fs: `mkdir -p \
             /tmp/hotline-s3/{BUCKET} && s3s-fs --host 127.0.0.1 --port 19000 --access-key \
             {ACCESS_KEY} --secret-key {SECRET_KEY} /tmp/hotline-s3`, or set HOTLINE_TEST_S3)"
        )
    })?;
    Ok(())
}

/// Runs `case` on the local filesystem under a fresh temp dir.
async fn on_local<F, Fut>(case: F)
where
    F: FnOnce(Objects) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let objects = Objects::open(&ObjectsConfig::Local {
        root: dir.path().join("objects"),
    })
    .expect("open local objects");
    case(objects).await.expect("local case");
}

/// Runs `case` against the S3-compatible test server.
async fn on_s3<F, Fut>(case: F)
where
    F: FnOnce(Objects) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let endpoint = s3_endpoint();
    require_s3(&endpoint).expect("S3 test server");
    let objects = Objects::open(&s3_config(&endpoint, SECRET_KEY)).expect("open s3 objects");
    case(objects).await.expect("s3 case");
}

/// One `#[tokio::test]` per backend for each case.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_local(super::$case).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    super::on_s3(super::$case).await;
                }
            )*
        }
    };
}

conformance!(
    ping_answers,
    round_trip,
    empty_and_large_objects,
    overwrite_replaces,
    list_with_prefix,
    delete_removes,
    missing_objects_are_not_found,
    bad_keys_are_refused,
    tenant_b_cannot_reach_tenant_a,
    tenant_whose_id_extends_another_sees_only_its_own,
);

// ---------------------------------------------------------------------------------
// Fixtures

/// A tenant id unique to this run.
fn tenant(label: &str) -> TenantId {
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    TenantId::new(format!("{label}-{}", &suffix[16..])).expect("valid tenant id")
}

fn meta(key: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        key: key.to_owned(),
        size,
    }
}

fn expect_not_found<T: std::fmt::Debug>(r: hotline_objects::Result<T>, key: &str) -> Result<()> {
    match r {
        Err(Error::NotFound(k)) if k == key => Ok(()),
        other => bail!("{key:?}: expected NotFound, got {other:?}"),
    }
}

fn expect_bad_key<T: std::fmt::Debug>(r: hotline_objects::Result<T>, key: &str) -> Result<()> {
    match r {
        Err(Error::BadKey { .. }) => Ok(()),
        other => bail!("{key:?}: expected BadKey, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Cases

async fn ping_answers(objects: Objects) -> Result<()> {
    objects.ping().await?;
    Ok(())
}

async fn round_trip(objects: Objects) -> Result<()> {
    let t = tenant("a");
    let data = Bytes::from_static(b"RIFF....WAVEfmt audio");
    objects
        .put(&t, "recordings/2025/call-1.wav", data.clone())
        .await?;
    assert_eq!(objects.get(&t, "recordings/2025/call-1.wav").await?, data);
    assert_eq!(
        objects.head(&t, "recordings/2025/call-1.wav").await?,
        meta("recordings/2025/call-1.wav", data.len() as u64)
    );
    Ok(())
}

async fn empty_and_large_objects(objects: Objects) -> Result<()> {
    let t = tenant("a");
    objects.put(&t, "empty", Bytes::new()).await?;
    assert_eq!(objects.get(&t, "empty").await?, Bytes::new());
    assert_eq!(objects.head(&t, "empty").await?.size, 0);

    // Every byte value, a few MiB: nothing is lost or re-encoded on the way.
    let large: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    objects
        .put(&t, "voicemail/long.raw", Bytes::from(large.clone()))
        .await?;
    assert_eq!(
        objects.get(&t, "voicemail/long.raw").await?.as_ref(),
        &large[..]
    );
    assert_eq!(
        objects.head(&t, "voicemail/long.raw").await?.size,
        large.len() as u64
    );
    // Leave a shared test bucket as small as it was.
    objects.delete(&t, "voicemail/long.raw").await?;
    expect_not_found(
        objects.head(&t, "voicemail/long.raw").await,
        "voicemail/long.raw",
    )?;
    Ok(())
}

async fn overwrite_replaces(objects: Objects) -> Result<()> {
    let t = tenant("a");
    objects
        .put(
            &t,
            "prompts/welcome.wav",
            Bytes::from_static(b"first version, longer"),
        )
        .await?;
    objects
        .put(&t, "prompts/welcome.wav", Bytes::from_static(b"second"))
        .await?;
    assert_eq!(
        objects.get(&t, "prompts/welcome.wav").await?,
        Bytes::from_static(b"second")
    );
    assert_eq!(
        objects.list(&t, "prompts").await?,
        vec![meta("prompts/welcome.wav", 6)],
        "one object, the new size"
    );
    Ok(())
}

async fn list_with_prefix(objects: Objects) -> Result<()> {
    let t = tenant("a");
    for (key, body) in [
        ("voicemail/b/c.wav", &b"ccc"[..]),
        ("voicemail/a.wav", b"a"),
        ("voicemail-old/x.wav", b"xx"),
        ("prompts/p.wav", b"pppp"),
        ("top", b"t"),
    ] {
        objects.put(&t, key, Bytes::copy_from_slice(body)).await?;
    }
    assert_eq!(
        objects.list(&t, "voicemail").await?,
        vec![meta("voicemail/a.wav", 1), meta("voicemail/b/c.wav", 3)],
        "whole segments only: voicemail-old is not under voicemail"
    );
    assert_eq!(
        objects.list(&t, "voicemail/b").await?,
        vec![meta("voicemail/b/c.wav", 3)]
    );
    assert_eq!(
        objects.list(&t, "").await?,
        vec![
            meta("prompts/p.wav", 4),
            meta("top", 1),
            meta("voicemail-old/x.wav", 2),
            meta("voicemail/a.wav", 1),
            meta("voicemail/b/c.wav", 3),
        ],
        "everything, ordered by key"
    );
    assert!(objects.list(&t, "nothing-here").await?.is_empty());
    expect_bad_key(objects.list(&t, "voicemail/").await, "voicemail/")?;
    Ok(())
}

async fn delete_removes(objects: Objects) -> Result<()> {
    let t = tenant("a");
    objects
        .put(&t, "voicemail/1.wav", Bytes::from_static(b"1"))
        .await?;
    objects
        .put(&t, "voicemail/2.wav", Bytes::from_static(b"2"))
        .await?;

    objects.delete(&t, "voicemail/1.wav").await?;
    expect_not_found(objects.get(&t, "voicemail/1.wav").await, "voicemail/1.wav")?;
    expect_not_found(objects.head(&t, "voicemail/1.wav").await, "voicemail/1.wav")?;
    assert_eq!(
        objects.list(&t, "").await?,
        vec![meta("voicemail/2.wav", 1)],
        "only the deleted object is gone"
    );
    // Idempotent: a retried delete succeeds.
    objects.delete(&t, "voicemail/1.wav").await?;
    objects.delete(&t, "never/existed").await?;
    assert_eq!(
        objects.get(&t, "voicemail/2.wav").await?,
        Bytes::from_static(b"2")
    );
    Ok(())
}

async fn missing_objects_are_not_found(objects: Objects) -> Result<()> {
    let t = tenant("a");
    expect_not_found(objects.get(&t, "nope.wav").await, "nope.wav")?;
    expect_not_found(objects.head(&t, "dir/nope.wav").await, "dir/nope.wav")?;
    assert!(objects.list(&t, "").await?.is_empty());
    Ok(())
}

async fn bad_keys_are_refused(objects: Objects) -> Result<()> {
    let t = tenant("a");
    let long = format!("{0}/{0}/{1}", "k".repeat(200), "k".repeat(111));
    let long_segment = "k".repeat(201);
    let bad = [
        "",
        "/abs",
        "a//b",
        "trailing/",
        ".",
        "..",
        "a/./b",
        "../escape",
        "a/../../b",
        "sp ace",
        "back\\slash",
        "%2E%2E/x",
        "caf\u{e9}",
        "nul\0",
        long.as_str(),
        long_segment.as_str(),
    ];
    for key in bad {
        expect_bad_key(objects.put(&t, key, Bytes::from_static(b"x")).await, key)?;
        expect_bad_key(objects.get(&t, key).await, key)?;
        expect_bad_key(objects.head(&t, key).await, key)?;
        expect_bad_key(objects.delete(&t, key).await, key)?;
        if !key.is_empty() {
            expect_bad_key(objects.list(&t, key).await, key)?;
        }
    }
    match objects.get(&t, "../escape").await {
        Err(Error::BadKey { reason, .. }) => assert!(reason.contains(".."), "{reason}"),
        other => bail!("expected BadKey, got {other:?}"),
    }
    assert!(objects.list(&t, "").await?.is_empty(), "nothing was stored");
    Ok(())
}

async fn tenant_b_cannot_reach_tenant_a(objects: Objects) -> Result<()> {
    let a = tenant("a");
    let b = tenant("b");
    let secret = Bytes::from_static(b"a's recording");
    objects
        .put(&a, "recordings/secret.wav", secret.clone())
        .await?;
    objects.put(&a, "x", Bytes::from_static(b"x")).await?;
    objects
        .put(&b, "mine.wav", Bytes::from_static(b"b"))
        .await?;

    // The same key names b's own (absent) object.
    expect_not_found(
        objects.get(&b, "recordings/secret.wav").await,
        "recordings/secret.wav",
    )?;
    expect_not_found(
        objects.head(&b, "recordings/secret.wav").await,
        "recordings/secret.wav",
    )?;
    assert_eq!(objects.list(&b, "").await?, vec![meta("mine.wav", 1)]);
    assert!(objects.list(&b, "recordings").await?.is_empty());
    objects.delete(&b, "recordings/secret.wav").await?;
    objects.delete(&b, "x").await?;

    // Climbing out of b's prefix is refused before any request is made.
    let climbs = [
        format!("../{a}/x"),
        format!("../{a}/recordings/secret.wav"),
        format!("../../tenants/{a}/x"),
        format!("mine.wav/../../{a}/x"),
        format!("/tenants/{a}/x"),
    ];
    for key in &climbs {
        expect_bad_key(objects.get(&b, key).await, key)?;
        expect_bad_key(objects.head(&b, key).await, key)?;
        expect_bad_key(objects.delete(&b, key).await, key)?;
        expect_bad_key(objects.put(&b, key, Bytes::from_static(b"evil")).await, key)?;
        expect_bad_key(objects.list(&b, key).await, key)?;
    }
    expect_bad_key(objects.list(&b, &format!("../{a}")).await, "../a")?;

    // a's objects are untouched.
    assert_eq!(objects.get(&a, "recordings/secret.wav").await?, secret);
    assert_eq!(
        objects.list(&a, "").await?,
        vec![
            meta("recordings/secret.wav", secret.len() as u64),
            meta("x", 1)
        ]
    );
    Ok(())
}

/// `tenants/acme` must not list `tenants/acme-2/...`: prefixes end at a segment.
async fn tenant_whose_id_extends_another_sees_only_its_own(objects: Objects) -> Result<()> {
    let a = tenant("a");
    let longer = TenantId::new(format!("{a}-2"))?;
    objects.put(&a, "a.wav", Bytes::from_static(b"a")).await?;
    objects
        .put(&longer, "l.wav", Bytes::from_static(b"l"))
        .await?;
    assert_eq!(objects.list(&a, "").await?, vec![meta("a.wav", 1)]);
    assert_eq!(objects.list(&longer, "").await?, vec![meta("l.wav", 1)]);
    expect_not_found(objects.get(&a, "l.wav").await, "l.wav")?;
    Ok(())
}

// ---------------------------------------------------------------------------------
// Backend-specific

/// Objects are plain files at `<root>/tenants/<tenant>/<key>`.
#[tokio::test]
async fn local_layout_is_tenants_tenant_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("deep/objects");
    let objects = Objects::open(&ObjectsConfig::Local { root: root.clone() })?;
    let t = tenant("a");
    objects
        .put(&t, "voicemail/v1.wav", Bytes::from_static(b"hello"))
        .await?;
    let file = root
        .join("tenants")
        .join(t.as_str())
        .join("voicemail/v1.wav");
    assert_eq!(std::fs::read(&file)?, b"hello");

    // A second handle on the same root (a restart) sees it.
    let reopened = Objects::open(&ObjectsConfig::Local { root })?;
    assert_eq!(
        reopened.get(&t, "voicemail/v1.wav").await?,
        Bytes::from_static(b"hello")
    );
    Ok(())
}

/// The longest key the API accepts is stored. Local only: s3s-fs keeps each object's
/// metadata in a file named after the base64 of the whole key, which caps keys near 150
/// bytes there (real S3 allows 1024).
#[tokio::test]
async fn local_stores_the_longest_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let objects = Objects::open(&ObjectsConfig::Local {
        root: dir.path().to_owned(),
    })?;
    let t = tenant("a");
    let longest = format!("{0}/{0}/{1}", "k".repeat(200), "k".repeat(110));
    assert_eq!(longest.len(), hotline_objects::MAX_KEY_LEN);
    objects.put(&t, &longest, Bytes::from_static(b"ok")).await?;
    assert_eq!(objects.get(&t, &longest).await?, Bytes::from_static(b"ok"));
    assert_eq!(objects.list(&t, "").await?, vec![meta(&longest, 2)]);
    Ok(())
}

#[tokio::test]
async fn local_root_that_is_a_file_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("file");
    std::fs::write(&file, b"x")?;
    match Objects::open(&ObjectsConfig::Local { root: file }) {
        Err(Error::Root { .. }) => Ok(()),
        other => bail!("expected Root error, got {other:?}"),
    }
}

/// The S3 layout is the same: a raw client sees `tenants/<tenant>/<key>` in the bucket.
#[tokio::test]
async fn s3_layout_is_tenants_tenant_key() -> Result<()> {
    let endpoint = s3_endpoint();
    require_s3(&endpoint)?;
    let objects = Objects::open(&s3_config(&endpoint, SECRET_KEY))?;
    let t = tenant("a");
    objects
        .put(&t, "voicemail/v1.wav", Bytes::from_static(b"hello"))
        .await?;
    let raw = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_endpoint(&endpoint)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
        .build()?;
    let path = object_store::path::Path::from(format!("tenants/{t}/voicemail/v1.wav"));
    assert_eq!(
        raw.get(&path).await?.bytes().await?,
        Bytes::from_static(b"hello")
    );
    raw.delete(&path).await?;
    Ok(())
}

#[tokio::test]
async fn s3_with_wrong_secret_fails_ping() -> Result<()> {
    let endpoint = s3_endpoint();
    require_s3(&endpoint)?;
    let objects = Objects::open(&s3_config(&endpoint, "not-the-secret"))?;
    match objects.ping().await {
        Err(e @ Error::Store(_)) => {
            assert!(
                format!("{e:?}").contains("403"),
                "refused by the server: {e:?}"
            )
        }
        other => bail!("expected a store error, got {other:?}"),
    }
    let t = tenant("a");
    match objects.put(&t, "x", Bytes::from_static(b"x")).await {
        Err(e @ Error::Store(_)) => assert!(format!("{e:?}").contains("403"), "{e:?}"),
        other => bail!("expected a store error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn s3_unreachable_fails_ping_within_bounds() -> Result<()> {
    // Nothing listens on port 1.
    let objects = Objects::open(&s3_config("http://127.0.0.1:1", SECRET_KEY))?;
    let started = Instant::now();
    match objects.ping().await {
        Err(e @ Error::Store(_)) => {
            let text = format!("{e:?}").to_lowercase();
            assert!(text.contains("connect"), "a connection failure: {e:?}");
        }
        other => bail!("expected a store error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}
