//! Phone numbers and prompts through the real HTTP client, on PostgreSQL and on the
//! embedded store: numbers are normalised, belong to one tenant of the whole platform
//! (checked through the real `ConfigService.ResolveNumber` gRPC client), need an
//! existing entry flow; prompts are WAV uploads converted to 8 kHz mono 16-bit PCM,
//! bad uploads are refused with the right status and leave nothing behind; tenant B
//! sees none of tenant A's numbers or prompts; every change is a `ConfigChanged` event.

use std::io::Cursor;
use std::time::Duration;

use hotline_core::{Event, TenantId};
use hotline_proto::v1 as pb;
use hotline_tests::TestBackends;
use hotline_tests::api::Api;
use hotline_tests::both;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A queue `support` and two entry flows to it, `main` and `night`.
async fn flows(api: &Api, key: &str) -> anyhow::Result<()> {
    for (path, body) in [
        ("/v1/queues/support", json!({"name": "Support"})),
        (
            "/v1/entry-flows/main",
            json!({"name": "Main line", "start": {"type": "queue", "id": "support"}}),
        ),
        (
            "/v1/entry-flows/night",
            json!({"name": "Night line", "start": {"type": "queue", "id": "support"}}),
        ),
    ] {
        let (s, v) = api.call(Method::PUT, path, Some(key), Some(body)).await?;
        anyhow::ensure!(s == StatusCode::CREATED, "PUT {path}: {s} {v}");
    }
    Ok(())
}

/// What `ConfigService.ResolveNumber` says about `did`: (tenant, entry flow), or the
/// gRPC code.
async fn resolve(api: &Api, did: &str) -> anyhow::Result<Result<(String, String), tonic::Code>> {
    let mut c =
        pb::config_service_client::ConfigServiceClient::connect(format!("http://{}", api.grpc))
            .await?;
    Ok(
        c.resolve_number(pb::ResolveNumberRequest { did: did.into() })
            .await
            .map(|r| {
                let r = r.into_inner();
                (r.tenant_id, r.entry_flow_id)
            })
            .map_err(|s| s.code()),
    )
}

fn field_rule(v: &Value) -> (String, String) {
    let f = &v["error"]["fields"][0];
    (
        f["field"].as_str().unwrap_or_default().to_owned(),
        f["rule"].as_str().unwrap_or_default().to_owned(),
    )
}

both!(numbers_are_normalised_and_support_crud_with_etags);
async fn numbers_are_normalised_and_support_crud_with_etags(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    flows(&api, &key).await?;

    // Written as Russians advertise it; stored and resolved as E.164.
    let (s, h, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/8-800-555-35-35",
            &key,
            &[],
            Some(json!({"name": "Hotline", "entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["number"], "+78005553535");
    assert_eq!(v["id"], "+78005553535");
    assert_eq!(v["name"], "Hotline");
    assert_eq!(v["entry_flow"], "main");
    assert_eq!(v["version"], 1);
    assert_eq!(h.get("etag").map(|e| e.as_bytes()), Some(&b"\"1\""[..]));
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Ok((tenant.clone(), "main".to_owned()))
    );

    // Every spelling of the number names the same resource.
    for path in [
        "/v1/numbers/+78005553535",
        "/v1/numbers/%2B78005553535",
        "/v1/numbers/+7%20(800)%20555-35-35",
        "/v1/numbers/88005553535",
    ] {
        let (s, v) = api.call(Method::GET, path, Some(&key), None).await?;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["number"], "+78005553535", "{path}");
        assert_eq!(v["name"], "Hotline", "{path}");
    }
    let (s, list) = api
        .call(Method::GET, "/v1/numbers", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["number"], "+78005553535");

    // A body may repeat the number in any spelling, but not name another one.
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key,
            &[("if-match", "\"1\"")],
            Some(json!({"number": "8 800 555 35 35", "name": "Hotline RU", "entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["name"].clone(), v["version"].clone()),
        (json!("Hotline RU"), json!(2))
    );
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key,
            &[],
            Some(json!({"number": "+15550100", "entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(field_rule(&v).0, "number");

    // A stale ETag is refused and changes nothing.
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key,
            &[("if-match", "\"1\"")],
            Some(json!({"name": "Stale", "entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key,
            &[("if-none-match", "*")],
            Some(json!({"entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Ok((tenant.clone(), "main".to_owned()))
    );

    // Moving the number to another entry flow is what ingress then sees.
    let (s, h, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key,
            &[("if-match", "\"2\"")],
            Some(json!({"name": "Hotline RU", "entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entry_flow"], "night");
    assert_eq!(h.get("etag").map(|e| e.as_bytes()), Some(&b"\"3\""[..]));
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Ok((tenant.clone(), "night".to_owned()))
    );

    // A second number; listing is ordered, paged and filtered by name.
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+74951234567",
            Some(&key),
            Some(json!({"name": "Moscow office", "entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, page) = api
        .call(Method::GET, "/v1/numbers?limit=1", Some(&key), None)
        .await?;
    assert_eq!(page["items"][0]["number"], "+74951234567", "{page}");
    assert_eq!(page["next"], "+74951234567");
    let (_, page) = api
        .call(
            Method::GET,
            "/v1/numbers?limit=1&after=%2B74951234567",
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(page["items"][0]["number"], "+78005553535", "{page}");
    let (_, page) = api
        .call(Method::GET, "/v1/numbers?name=Moscow", Some(&key), None)
        .await?;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");

    // Delete: gone from the API and from routing; a second delete is 404.
    let (s, _, v) = api
        .send(
            Method::DELETE,
            "/v1/numbers/8-800-555-35-35",
            &key,
            &[("if-match", "\"1\"")],
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    let (s, _) = api
        .call(
            Method::DELETE,
            "/v1/numbers/8-800-555-35-35",
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(Method::GET, "/v1/numbers/+78005553535", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Err(tonic::Code::NotFound)
    );
    let (s, _) = api
        .call(Method::DELETE, "/v1/numbers/+78005553535", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Assigned again after release: a fresh resource.
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key),
            Some(json!({"entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        v.get("name").is_none(),
        "the old label is not resurrected: {v}"
    );
    api.stop().await
}

both!(bad_numbers_and_unknown_entry_flows_are_422_and_store_nothing);
async fn bad_numbers_and_unknown_entry_flows_are_422_and_store_nothing(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    flows(&api, &key).await?;
    for (path, body, field, rule) in [
        (
            "/v1/numbers/+78005553535",
            json!({"entry_flow": "nowhere"}),
            "entry_flow",
            "unknown_reference",
        ),
        (
            "/v1/numbers/4951234567",
            json!({"entry_flow": "main"}),
            "number",
            "format",
        ),
        (
            "/v1/numbers/+0123",
            json!({"entry_flow": "main"}),
            "number",
            "format",
        ),
        (
            "/v1/numbers/+78005553535",
            json!({"entry_flow": "main", "color": "red"}),
            "color",
            "unknown_field",
        ),
        (
            "/v1/numbers/+78005553535",
            json!({"name": "", "entry_flow": "main"}),
            "name",
            "required",
        ),
        ("/v1/numbers/+78005553535", json!(["main"]), "", "type"),
    ] {
        let (s, v) = api.call(Method::PUT, path, Some(&key), Some(body)).await?;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        assert_eq!(
            field_rule(&v),
            (field.to_owned(), rule.to_owned()),
            "{path}: {v}"
        );
    }
    let (s, _, v) = api
        .send(Method::PUT, "/v1/numbers/+78005553535", &key, &[], None)
        .await?;
    assert!(s.is_client_error(), "empty body: {s} {v}");
    let (_, list) = api
        .call(Method::GET, "/v1/numbers", Some(&key), None)
        .await?;
    assert_eq!(list["items"], json!([]), "nothing stored: {list}");
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Err(tonic::Code::NotFound)
    );

    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key),
            Some(json!({"entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // A read-only key reads but cannot assign or release.
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&key),
            Some(json!({"role": "readonly"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ro = v["api_key"].as_str().unwrap_or_default().to_owned();
    let (s, _) = api
        .call(Method::GET, "/v1/numbers/+78005553535", Some(&ro), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api
        .call(
            Method::PUT,
            "/v1/numbers/+74951234567",
            Some(&ro),
            Some(json!({"entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api
        .call(Method::DELETE, "/v1/numbers/+78005553535", Some(&ro), None)
        .await?;
    assert_eq!(s, StatusCode::FORBIDDEN);
    api.stop().await
}

both!(an_entry_flow_a_number_starts_cannot_be_deleted);
async fn an_entry_flow_a_number_starts_cannot_be_deleted(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (_, key) = api.tenant("Acme").await?;
    flows(&api, &key).await?;
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key),
            Some(json!({"entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .call(Method::DELETE, "/v1/entry-flows/main", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("+78005553535"),
        "the 409 names the number: {v}"
    );
    assert_eq!(
        resolve(&api, "+78005553535").await?.map(|(_, flow)| flow),
        Ok("main".to_owned())
    );
    // An entry flow no number starts can go.
    let (s, v) = api
        .call(Method::DELETE, "/v1/entry-flows/night", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    api.stop().await
}

both!(a_number_belongs_to_one_tenant_and_b_cannot_see_or_take_it);
async fn a_number_belongs_to_one_tenant_and_b_cannot_see_or_take_it(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant_a, key_a) = api.tenant("Acme").await?;
    let (tenant_b, key_b) = api.tenant("Rival").await?;
    flows(&api, &key_a).await?;
    flows(&api, &key_b).await?;
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key_a),
            Some(json!({"name": "Acme secret line", "entry_flow": "main"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // B asks for it, however written: 409, and nothing says whose it is.
    for path in ["/v1/numbers/+78005553535", "/v1/numbers/8-800-555-35-35"] {
        let (s, v) = api
            .call(
                Method::PUT,
                path,
                Some(&key_b),
                Some(json!({"entry_flow": "night"})),
            )
            .await?;
        assert_eq!(s, StatusCode::CONFLICT, "{path}: {v}");
        let text = v.to_string();
        assert!(
            !text.contains(&tenant_a) && !text.contains("Acme"),
            "the 409 leaks the holder: {text}"
        );
    }
    // B cannot see, change or release it: 404, as for a number nobody has.
    for path in ["/v1/numbers/+78005553535", "/v1/numbers/8-800-555-35-35"] {
        let (s, v) = api.call(Method::GET, path, Some(&key_b), None).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "GET {path}: {v}");
        let (s, v) = api.call(Method::DELETE, path, Some(&key_b), None).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "DELETE {path}: {v}");
    }
    let (s, _, v) = api
        .send(
            Method::PUT,
            "/v1/numbers/+78005553535",
            &key_b,
            &[("if-match", "\"1\"")],
            Some(json!({"entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, list) = api
        .call(Method::GET, "/v1/numbers", Some(&key_b), None)
        .await?;
    assert_eq!(list["items"], json!([]), "{list}");

    // A's number still reaches A, as ingress sees it, with A's label intact.
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Ok((tenant_a.clone(), "main".to_owned()))
    );
    let (s, v) = api
        .call(Method::GET, "/v1/numbers/+78005553535", Some(&key_a), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["name"], "Acme secret line");

    // B's own number works; A cannot see it either.
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+74951234567",
            Some(&key_b),
            Some(json!({"entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        resolve(&api, "+74951234567").await?,
        Ok((tenant_b.clone(), "night".to_owned()))
    );
    let (s, _) = api
        .call(Method::GET, "/v1/numbers/+74951234567", Some(&key_a), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Once A releases it, B may take it.
    let (s, _) = api
        .call(
            Method::DELETE,
            "/v1/numbers/+78005553535",
            Some(&key_a),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key_b),
            Some(json!({"entry_flow": "night"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        v.get("name").is_none(),
        "A's label must not carry over: {v}"
    );
    assert_eq!(
        resolve(&api, "+78005553535").await?,
        Ok((tenant_b, "night".to_owned()))
    );
    api.stop().await
}

// --- prompts ---------------------------------------------------------------------

/// A 16-bit WAV of a `freq` Hz tone at half scale, same on every channel.
fn tone_wav(rate: u32, channels: u16, frames: u32, freq: f64) -> anyhow::Result<Vec<u8>> {
    let mut c = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(
        &mut c,
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )?;
    for i in 0..frames {
        let x = 0.5 * (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin();
        for _ in 0..channels {
            w.write_sample((x * 32767.0).round() as i16)?;
        }
    }
    w.finalize()?;
    Ok(c.into_inner())
}

async fn upload(
    api: &Api,
    key: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> anyhow::Result<(StatusCode, Value)> {
    api.call_raw(
        Method::POST,
        &format!("/v1/prompts{query}"),
        Some(key),
        content_type,
        body,
    )
    .await
}

/// The raw body, status and content type of a GET.
async fn fetch(
    api: &Api,
    path: &str,
    key: &str,
) -> anyhow::Result<(StatusCode, Option<String>, Vec<u8>)> {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", api.http))
        .bearer_auth(key)
        .send()
        .await?;
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((status, ct, resp.bytes().await?.to_vec()))
}

/// The tenant's objects under `prompts/`.
async fn prompt_objects(b: &TestBackends, tenant: &str) -> anyhow::Result<Vec<String>> {
    Ok(b.backends
        .objects
        .list(&TenantId::new(tenant)?, "prompts")
        .await?
        .into_iter()
        .map(|m| m.key)
        .collect())
}

both!(a_stereo_16_khz_upload_is_stored_as_8_khz_mono_with_its_tone);
async fn a_stereo_16_khz_upload_is_stored_as_8_khz_mono_with_its_tone(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    // 1.5 s of 440 Hz, 16 kHz stereo 16-bit.
    let body = tone_wav(16_000, 2, 24_000, 440.0)?;
    let (s, v) = upload(
        &api,
        &key,
        "?name=Welcome&language=ru-ru",
        "audio/wav",
        body.clone(),
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("prompt-"), "{v}");
    assert_eq!(v["name"], "Welcome");
    assert_eq!(v["language"], "ru-RU", "normalised");
    assert_eq!(v["version"], 1);
    assert_eq!(v["audio"]["sample_rate"], 8000);
    assert_eq!(v["audio"]["duration_ms"], 1500);
    assert_eq!(v["audio"]["object_key"], format!("prompts/{id}.wav"));

    let (s, got) = api
        .call(Method::GET, &format!("/v1/prompts/{id}"), Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, v, "metadata reads back as created");
    let (_, list) = api
        .call(Method::GET, "/v1/prompts", Some(&key), None)
        .await?;
    assert_eq!(list["items"], json!([v]), "{list}");

    // The audio: 8 kHz mono 16-bit, 1.5 s, still a 440 Hz tone.
    let (s, ct, wav) = fetch(&api, &format!("/v1/prompts/{id}/audio"), &key).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("audio/wav"));
    let mut r = hound::WavReader::new(Cursor::new(&wav))?;
    let spec = r.spec();
    assert_eq!(
        (
            spec.channels,
            spec.sample_rate,
            spec.bits_per_sample,
            spec.sample_format
        ),
        (1, 8000, 16, hound::SampleFormat::Int)
    );
    let samples: Vec<i16> = r.samples::<i16>().collect::<Result<_, _>>()?;
    assert!(
        samples.len().abs_diff(12_000) <= 1,
        "{} frames, want 12000 ± 1",
        samples.len()
    );
    // Zero crossings over the middle second (the edges taper): a 440 Hz tone crosses
    // 880 times a second.
    let middle = &samples[2000..10_000];
    let crossings = middle
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    assert!(
        (crossings as f64 / 1.0 - 880.0).abs() <= 4.0,
        "{crossings} zero crossings in 1 s, want about 880"
    );
    let peak = middle.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(
        (15_800..=16_900).contains(&peak),
        "the level is kept (half scale ≈ 16384): peak {peak}"
    );
    // The stored object is the same file.
    let stored = b
        .backends
        .objects
        .get(&TenantId::new(&tenant)?, &format!("prompts/{id}.wav"))
        .await?;
    assert_eq!(stored.as_ref(), wav.as_slice());

    // The client cannot point a prompt elsewhere: `audio` in the query is refused.
    let (s, v2) = upload(
        &api,
        &key,
        "?name=X&language=en&audio=prompts/other.wav",
        "audio/wav",
        body.clone(),
    )
    .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v2}");

    // Idempotency: a retried upload replays the first answer and stores nothing more.
    let hdr = [
        ("idempotency-key", "upload-1"),
        ("content-type", "audio/x-wav"),
    ];
    let mut firsts = Vec::new();
    for _ in 0..2 {
        let resp = reqwest::Client::new()
            .post(format!(
                "http://{}/v1/prompts?name=Hold&language=en",
                api.http
            ))
            .bearer_auth(&key)
            .header(hdr[0].0, hdr[0].1)
            .header(hdr[1].0, hdr[1].1)
            .body(body.clone())
            .send()
            .await?;
        assert_eq!(resp.status(), StatusCode::CREATED);
        firsts.push(resp.json::<Value>().await?);
    }
    assert_eq!(firsts[0], firsts[1]);
    assert_eq!(prompt_objects(b, &tenant).await?.len(), 2);

    // In use by an entry flow: refused; once unused, deleted with its audio.
    let (s, v3) = api
        .call(
            Method::PUT,
            "/v1/queues/support",
            Some(&key),
            Some(json!({"name": "S"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v3}");
    let (s, v3) = api
        .call(
            Method::PUT,
            "/v1/entry-flows/main",
            Some(&key),
            Some(json!({"name": "Main", "greeting": id, "start": {"type": "queue", "id": "support"}})),
        )
        .await?;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the uploaded prompt can be referred to: {v3}"
    );
    let (s, v3) = api
        .call(
            Method::DELETE,
            &format!("/v1/prompts/{id}"),
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::CONFLICT, "{v3}");
    assert!(
        v3["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("entry-flow main"),
        "{v3}"
    );
    let (s, _) = api
        .call(Method::DELETE, "/v1/entry-flows/main", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/prompts/{id}"),
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(Method::GET, &format!("/v1/prompts/{id}"), Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = fetch(&api, &format!("/v1/prompts/{id}/audio"), &key).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        !prompt_objects(b, &tenant)
            .await?
            .contains(&format!("prompts/{id}.wav")),
        "the audio is deleted with the prompt"
    );
    api.stop().await
}

both!(bad_uploads_get_415_413_or_422_and_store_nothing);
async fn bad_uploads_get_415_413_or_422_and_store_nothing(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    let good = tone_wav(8000, 1, 800, 440.0)?;

    for ct in ["application/json", "audio/mpeg", "text/plain", ""] {
        let (s, v) = upload(&api, &key, "?name=W&language=en", ct, good.clone()).await?;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {v}");
    }

    let too_big = vec![0u8; 10 * 1024 * 1024 + 1];
    let (s, v) = upload(&api, &key, "?name=W&language=en", "audio/wav", too_big).await?;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");

    let mut cut = good.clone();
    cut.truncate(good.len() - 301);
    let empty = tone_wav(8000, 1, 0, 440.0)?;
    let eleven_minutes = {
        // 8-bit mono at 1 kHz keeps 11 minutes small.
        let mut c = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(
            &mut c,
            hound::WavSpec {
                channels: 1,
                sample_rate: 1000,
                bits_per_sample: 8,
                sample_format: hound::SampleFormat::Int,
            },
        )?;
        for _ in 0..660_000 {
            w.write_sample(0i8)?;
        }
        w.finalize()?;
        c.into_inner()
    };
    for (what, body, rule, says) in [
        (
            "garbage",
            b"this is not audio at all, just text".to_vec(),
            "format",
            "not a valid WAV",
        ),
        ("nothing", Vec::new(), "format", "cut short"),
        ("cut short", cut, "format", "cut short"),
        ("no samples", empty, "required", "no audio"),
        ("too long", eleven_minutes, "range", "10 minutes"),
    ] {
        let (s, v) = upload(&api, &key, "?name=W&language=en", "audio/wav", body).await?;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {v}");
        assert_eq!(
            field_rule(&v),
            ("body".to_owned(), rule.to_owned()),
            "{what}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{what}: {v}"
        );
    }

    for (query, field) in [
        ("", "name"),
        ("?language=en", "name"),
        ("?name=W", "language"),
        ("?name=W&language=not_a_language!", "language"),
    ] {
        let (s, v) = upload(&api, &key, query, "audio/wav", good.clone()).await?;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        assert_eq!(field_rule(&v).0, field, "{query}: {v}");
    }

    let (_, list) = api
        .call(Method::GET, "/v1/prompts", Some(&key), None)
        .await?;
    assert_eq!(list["items"], json!([]), "nothing stored: {list}");
    assert_eq!(prompt_objects(b, &tenant).await?, Vec::<String>::new());

    // The same good file is accepted, with a content-type parameter too.
    let (s, v) = upload(
        &api,
        &key,
        "?name=W&language=en",
        "Audio/WAV; codecs=1",
        good,
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["audio"]["duration_ms"], 100);
    api.stop().await
}

both!(tenant_b_cannot_see_or_touch_tenant_a_prompts);
async fn tenant_b_cannot_see_or_touch_tenant_a_prompts(b: &TestBackends) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant_a, key_a) = api.tenant("Acme").await?;
    let (tenant_b, key_b) = api.tenant("Rival").await?;
    let (s, v) = upload(
        &api,
        &key_a,
        "?name=Secret&language=en",
        "audio/wav",
        tone_wav(8000, 1, 800, 440.0)?,
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap_or_default().to_owned();

    for path in [
        format!("/v1/prompts/{id}"),
        format!("/v1/prompts/{id}/audio"),
    ] {
        let (s, ct, body) = fetch(&api, &path, &key_b).await?;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_ne!(ct.as_deref(), Some("audio/wav"), "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("Secret"), "{path}");
    }
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/prompts/{id}"),
            Some(&key_b),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = api
        .call(Method::GET, "/v1/prompts", Some(&key_b), None)
        .await?;
    assert_eq!(list["items"], json!([]), "{list}");
    // B cannot make one of its resources refer to A's prompt.
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/queues/support",
            Some(&key_b),
            Some(json!({"name": "S"})),
        )
        .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .call(
            Method::PUT,
            "/v1/entry-flows/main",
            Some(&key_b),
            Some(json!({"name": "Main", "greeting": id, "start": {"type": "queue", "id": "support"}})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        field_rule(&v),
        ("greeting".to_owned(), "unknown_reference".to_owned())
    );
    assert_eq!(prompt_objects(b, &tenant_b).await?, Vec::<String>::new());

    // A still has it, audio and all.
    let (s, ct, _) = fetch(&api, &format!("/v1/prompts/{id}/audio"), &key_a).await?;
    assert_eq!((s, ct.as_deref()), (StatusCode::OK, Some("audio/wav")));
    assert_eq!(prompt_objects(b, &tenant_a).await?.len(), 1);
    api.stop().await
}

both!(number_and_prompt_changes_are_published_as_config_changed);
async fn number_and_prompt_changes_are_published_as_config_changed(
    b: &TestBackends,
) -> anyhow::Result<()> {
    let api = Api::start(b).await?;
    let (tenant, key) = api.tenant("Acme").await?;
    flows(&api, &key).await?;
    let mut sub = b
        .backends
        .bus
        .subscribe(
            &format!("cfg-{}", hotline_tests::unique()),
            std::slice::from_ref(&b.backends.topics.events),
        )
        .await?;
    for (method, path, body) in [
        (
            Method::PUT,
            "/v1/numbers/+78005553535",
            json!({"entry_flow": "main"}),
        ),
        (
            Method::PUT,
            "/v1/numbers/+78005553535",
            json!({"name": "L", "entry_flow": "main"}),
        ),
        (
            Method::PUT,
            "/v1/numbers/+78005553535",
            json!({"name": "L", "entry_flow": "night"}),
        ),
    ] {
        let (s, v) = api.call(method, path, Some(&key), Some(body)).await?;
        assert!(s.is_success(), "{path}: {s} {v}");
    }
    // A refused change publishes nothing.
    let (s, _) = api
        .call(
            Method::PUT,
            "/v1/numbers/+78005553535",
            Some(&key),
            Some(json!({"entry_flow": "nowhere"})),
        )
        .await?;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = api
        .call(Method::DELETE, "/v1/numbers/+78005553535", Some(&key), None)
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = upload(
        &api,
        &key,
        "?name=W&language=en",
        "audio/wav",
        tone_wav(8000, 1, 80, 440.0)?,
    )
    .await?;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap_or_default().to_owned();
    let (s, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/prompts/{id}"),
            Some(&key),
            None,
        )
        .await?;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let want = vec![
        (
            "phone-number".to_owned(),
            "+78005553535".to_owned(),
            1,
            false,
        ),
        (
            "phone-number".to_owned(),
            "+78005553535".to_owned(),
            2,
            false,
        ),
        (
            "phone-number".to_owned(),
            "+78005553535".to_owned(),
            3,
            false,
        ),
        (
            "phone-number".to_owned(),
            "+78005553535".to_owned(),
            0,
            true,
        ),
        ("prompt".to_owned(), id.clone(), 1, false),
        ("prompt".to_owned(), id, 0, true),
    ];
    let mut seen = Vec::new();
    while seen.len() < want.len() {
        let d = tokio::time::timeout(Duration::from_secs(20), sub.next()).await??;
        let e = Event::decode(&d.payload)?;
        if let hotline_core::Payload::ConfigChanged(c) = e.payload
            && (c.kind == "phone-number" || c.kind == "prompt")
        {
            assert_eq!(e.tenant.as_str(), tenant);
            seen.push((c.kind, c.id, c.version, c.deleted));
        }
    }
    assert_eq!(seen, want);
    drop(sub);
    api.stop().await
}
