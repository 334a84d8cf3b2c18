//! Prompts under `/v1/prompts`: recorded announcements a tenant uploads as WAV, kept in
//! the object store as 8 kHz mono 16-bit PCM (what the telephone network carries).
//!
//! - `POST /v1/prompts?name=&language=` with the WAV file as the raw body
//!   (`Content-Type: audio/wav` or `audio/x-wav`, at most [`MAX_UPLOAD`] bytes; an
//!   `Idempotency-Key` replays the first answer to a retried upload);
//! - `GET /v1/prompts?limit=&after=&name=`, `GET /v1/prompts/{id}`: the metadata, a
//!   [`hotline_config::Prompt`] whose `audio` the server filled in;
//! - `GET /v1/prompts/{id}/audio`: the stored WAV;
//! - `DELETE /v1/prompts/{id}`: refused with 409 while a queue, IVR menu or entry flow
//!   still plays it.
//!
//! An upload is decoded with `hound` (PCM 8/16/24/32-bit integer or 32-bit float, mono
//! or stereo, any sample rate up to [`MAX_INPUT_RATE`]), mixed down to mono, resampled to
//! 8 kHz ([`resample`]) and stored at `prompts/<id>.wav` in the tenant's objects; then
//! the metadata document is written with its `ConfigChanged` event. Should that write
//! fail, the object is deleted again, so nothing is left half-saved. Deleting goes the
//! other way round: the document first (the truth), then the object; an object left
//! behind by a failure there is unreachable (ids are never reused) and only costs space.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::StreamExt;
use hotline_config::{Prompt, PromptAudio, Validate, rule};
use hotline_core::TenantId;
use hotline_store::{Document, Expect};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::{ApiError, ApiState, Caller};
use crate::resources::{delete_doc, get_doc, list_page, roles, view, with_etag};

type AppState = Arc<ApiState>;

const KIND: &str = Prompt::KIND;

/// Largest WAV upload, in bytes: 10 MiB.
pub const MAX_UPLOAD: usize = 10 * 1024 * 1024;
/// Longest prompt accepted, in milliseconds: 10 minutes.
pub const MAX_DURATION_MS: u64 = 600_000;
/// The sample rate every prompt is stored at.
pub const SAMPLE_RATE: u32 = 8000;
/// Highest sample rate an upload may have (what studio recorders write, twice over).
pub const MAX_INPUT_RATE: u32 = 768_000;
/// Media types an upload may be sent as.
const WAV_TYPES: [&str; 2] = ["audio/wav", "audio/x-wav"];

/// The routes of `/v1/prompts`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/prompts", get(list).post(upload))
        .route("/v1/prompts/{id}", get(get_one).delete(delete))
        .route("/v1/prompts/{id}/audio", get(audio))
}

// --- audio -------------------------------------------------------------------------

/// Why an upload is refused: the rule it broke and what was wrong, for a 422 naming
/// `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub rule: &'static str,
    pub reason: String,
}

impl Rejected {
    fn new(rule: &'static str, reason: impl Into<String>) -> Self {
        Self {
            rule,
            reason: reason.into(),
        }
    }
}

/// An upload converted to what is stored.
#[derive(Debug, Clone)]
pub struct Converted {
    /// 8 kHz mono 16-bit PCM WAV.
    pub wav: Vec<u8>,
    /// Frames (samples) of the converted audio.
    pub frames: u64,
    /// Length of the converted audio, rounded up to a whole millisecond.
    pub duration_ms: u32,
}

fn unreadable(e: hound::Error) -> Rejected {
    let accepted = "accepted: PCM with 8, 16, 24 or 32-bit integer or 32-bit float samples";
    match e {
        // Reading from memory fails only when the bytes run out, in the header or the data.
        hound::Error::IoError(_) => Rejected::new(rule::FORMAT, "the WAV file is cut short"),
        hound::Error::FormatError(why) => {
            Rejected::new(rule::FORMAT, format!("not a valid WAV file: {why}"))
        }
        hound::Error::Unsupported | hound::Error::InvalidSampleFormat => Rejected::new(
            rule::NOT_ALLOWED,
            format!("the WAV file's encoding is not supported; {accepted}"),
        ),
        hound::Error::TooWide | hound::Error::UnfinishedSample => Rejected::new(
            rule::FORMAT,
            "not a valid WAV file: its samples do not match its header",
        ),
    }
}

/// Decodes a WAV file into mono samples in [-1, 1] (channels averaged) and its rate.
pub fn decode(wav: &[u8]) -> Result<(Vec<f32>, u32), Rejected> {
    let reader = hound::WavReader::new(Cursor::new(wav)).map_err(unreadable)?;
    let spec = reader.spec();
    if !(1..=2).contains(&spec.channels) {
        return Err(Rejected::new(
            rule::NOT_ALLOWED,
            format!(
                "the WAV file has {} channels; upload mono or stereo",
                spec.channels
            ),
        ));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 8 | 16 | 24 | 32) | (hound::SampleFormat::Float, 32) => {}
        (format, bits) => {
            return Err(Rejected::new(
                rule::NOT_ALLOWED,
                format!(
                    "{bits}-bit {} samples are not supported; accepted: 8, 16, 24 or 32-bit integer or 32-bit float",
                    match format {
                        hound::SampleFormat::Int => "integer",
                        hound::SampleFormat::Float => "float",
                    }
                ),
            ));
        }
    }
    let rate = spec.sample_rate;
    if !(1..=MAX_INPUT_RATE).contains(&rate) {
        return Err(Rejected::new(
            rule::RANGE,
            format!("sample rate {rate} Hz is outside 1 to {MAX_INPUT_RATE} Hz"),
        ));
    }
    let frames = u64::from(reader.duration());
    if frames == 0 {
        return Err(Rejected::new(rule::REQUIRED, "the WAV file holds no audio"));
    }
    let ms = frames * 1000 / u64::from(rate);
    if ms > MAX_DURATION_MS {
        return Err(Rejected::new(
            rule::RANGE,
            format!(
                "the audio lasts {}.{:03} s; at most {} minutes are accepted",
                ms / 1000,
                ms % 1000,
                MAX_DURATION_MS / 60_000
            ),
        ));
    }
    let channels = usize::from(spec.channels);
    // The header's length is only a claim: never reserve more than the body can hold.
    let capacity = usize::try_from(frames).unwrap_or(usize::MAX).min(wav.len());
    let mut mono = Vec::with_capacity(capacity);
    let mut frame = [0f32; 2];
    let mut filled = 0;
    let mut push = |x: f32, mono: &mut Vec<f32>| {
        frame[filled] = x;
        filled += 1;
        if filled == channels {
            mono.push(frame[..channels].iter().sum::<f32>() / channels as f32);
            filled = 0;
        }
    };
    match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            for s in reader.into_samples::<i32>() {
                push(s.map_err(unreadable)? as f32 * scale, &mut mono);
            }
        }
        hound::SampleFormat::Float => {
            for s in reader.into_samples::<f32>() {
                let x = s.map_err(unreadable)?;
                if !x.is_finite() {
                    return Err(Rejected::new(
                        rule::FORMAT,
                        "the WAV file holds NaN or infinite samples",
                    ));
                }
                push(x.clamp(-1.0, 1.0), &mut mono);
            }
        }
    }
    Ok((mono, rate))
}

/// Zero crossings of the interpolation kernel on each side: its length, and so its
/// steepness (the transition band is about `4 kHz × 0.9 × 5 / ZERO_CROSSINGS` wide).
const ZERO_CROSSINGS: usize = 32;
/// Kernel table entries per zero crossing (linear interpolation between them).
const TABLE_STEPS: usize = 512;
/// Kaiser window shape: about 85 dB of stopband attenuation.
const KAISER_BETA: f64 = 8.6;
/// The cutoff, as a fraction of the lower Nyquist frequency: leaves room for the
/// transition band below it, so nothing above 4 kHz folds back into the passband.
const ROLLOFF: f64 = 0.9;

/// The zeroth-order modified Bessel function of the first kind, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// `sinc(x) · kaiser(x / ZERO_CROSSINGS)` for `x` in `[0, ZERO_CROSSINGS]`, sampled
/// `TABLE_STEPS` times per unit, plus a trailing zero; computed once.
fn kernel_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(build_kernel_table)
}

fn build_kernel_table() -> Vec<f64> {
    let n = ZERO_CROSSINGS * TABLE_STEPS;
    let norm = bessel_i0(KAISER_BETA);
    (0..=n + 1)
        .map(|i| {
            if i >= n {
                return 0.0;
            }
            let x = i as f64 / TABLE_STEPS as f64;
            let sinc = if i == 0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = x / ZERO_CROSSINGS as f64;
            sinc * bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / norm
        })
        .collect()
}

/// Resamples `input` from `from` Hz to `to` Hz by band-limited interpolation (J. O.
/// Smith's method): every output sample is the input convolved with a Kaiser-windowed
/// sinc centred on its exact position, the sinc's cutoff at [`ROLLOFF`] of the lower
/// Nyquist frequency, so downsampling low-passes before it decimates and upsampling
/// leaves no images.
///
/// Quality: flat (±0.1 dB) to about 3.3 kHz when going to 8 kHz, at least ~80 dB down
/// from about 3.9 kHz on (so what lies above 4 kHz does not alias audibly); the
/// 3.3–3.9 kHz transition band is attenuated, which the telephone band (300–3400 Hz)
/// does not use anyway. The kernel is linear-phase, so there is no phase distortion but
/// a little pre-ringing before sharp transients; the first and last ~4 ms taper because
/// the signal is taken as silent outside the file. Cost: about 70 multiply-adds per
/// input sample when downsampling.
///
/// The output has `round(len × to / from)` samples (at least one).
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let table = kernel_table();
    let ratio = f64::from(to) / f64::from(from);
    // Cutoff relative to the input's Nyquist frequency; kernel zero crossings fall every
    // 1/cutoff input samples.
    let cutoff = ROLLOFF * ratio.min(1.0);
    let half = ZERO_CROSSINGS as f64 / cutoff;
    let len = input.len();
    let n_out =
        ((len as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)).max(1) as usize;
    let step = f64::from(from) / f64::from(to);
    let last = (len - 1) as f64;
    let mut out = Vec::with_capacity(n_out);
    for j in 0..n_out {
        let t = j as f64 * step;
        let lo = (t - half).ceil().max(0.0) as usize;
        let hi = (t + half).floor().min(last) as usize;
        let mut acc = 0.0f64;
        for (k, &x) in input.iter().enumerate().take(hi + 1).skip(lo) {
            let pos = (t - k as f64).abs() * cutoff * TABLE_STEPS as f64;
            let i = pos as usize;
            if i + 1 >= table.len() {
                continue;
            }
            let frac = pos - i as f64;
            let h = table[i] + frac * (table[i + 1] - table[i]);
            acc += f64::from(x) * h;
        }
        out.push((acc * cutoff) as f32);
    }
    out
}

/// Writes mono samples in [-1, 1] as a 16-bit PCM WAV at `rate`; rounds, clips, no
/// dither.
pub fn encode(samples: &[f32], rate: u32) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let mut w = hound::WavWriter::new(&mut cursor, spec)?;
    for &x in samples {
        let s = (f64::from(x) * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        w.write_sample(s)?;
    }
    w.finalize()?;
    Ok(cursor.into_inner())
}

/// Decodes an uploaded WAV file and converts it to 8 kHz mono 16-bit PCM WAV.
pub fn convert(wav: &[u8]) -> Result<Converted, Rejected> {
    let (mono, rate) = decode(wav)?;
    let out = resample(&mono, rate, SAMPLE_RATE);
    let frames = out.len() as u64;
    let duration_ms = u32::try_from((frames * 1000).div_ceil(u64::from(SAMPLE_RATE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let wav = encode(&out, SAMPLE_RATE)
        .map_err(|e| Rejected::new(rule::FORMAT, format!("the audio cannot be re-encoded: {e}")))?;
    Ok(Converted {
        wav,
        frames,
        duration_ms,
    })
}

// --- HTTP ----------------------------------------------------------------------------

fn too_large() -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "payload_too_large",
        message: format!("the WAV file is larger than {MAX_UPLOAD} bytes (10 MiB)"),
        fields: vec![crate::http::FieldError {
            field: "body".to_owned(),
            rule: rule::LENGTH.to_owned(),
            message: format!("at most {MAX_UPLOAD} bytes"),
        }],
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: "unsupported_media_type",
        message: "send the WAV file as the body with Content-Type audio/wav or audio/x-wav"
            .to_owned(),
        fields: Vec::new(),
    }
}

/// Whether the request says its body is a WAV file (parameters are ignored).
fn is_wav(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            let t = t.trim();
            WAV_TYPES.iter().any(|w| w.eq_ignore_ascii_case(t))
        })
}

/// Reads the body, refusing it (413) as soon as it grows past [`MAX_UPLOAD`].
async fn read_limited(body: Body) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: "the request body could not be read to its end".to_owned(),
            fields: Vec::new(),
        })?;
        if buf.len() + chunk.len() > MAX_UPLOAD {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

/// The metadata of a new prompt from its name and language, normalised and validated.
pub(crate) fn prompt_meta(name: String, language: String) -> Result<Prompt, ApiError> {
    let mut prompt = Prompt {
        name,
        language,
        audio: None,
    };
    prompt.normalize();
    prompt.validate()?;
    Ok(prompt)
}

/// Converts `wav` and stores it with the prompt `meta` describes, under a new id
/// (transport-independent): the audio object first, then the document with its
/// `ConfigChanged`; the object is removed again if the document cannot be written.
#[tracing::instrument(name = "api.create_prompt", skip_all, fields(tenant = %tenant, size = wav.len()))]
pub(crate) async fn create_prompt(
    s: &ApiState,
    tenant: &TenantId,
    mut prompt: Prompt,
    wav: Vec<u8>,
) -> Result<Document, ApiError> {
    if wav.len() > MAX_UPLOAD {
        return Err(too_large());
    }
    // Decoding and resampling are CPU work (up to a second for the largest upload): off
    // the async workers. A panic in the decoder on hostile input is a bad body, not a
    // crash.
    let converted = match tokio::task::spawn_blocking(move || convert(&wav)).await {
        Ok(Ok(c)) => c,
        Ok(Err(r)) => return Err(ApiError::invalid("body", r.rule, r.reason)),
        Err(e) if e.is_panic() => {
            tracing::warn!("the wav decoder panicked on an upload");
            return Err(ApiError::invalid(
                "body",
                rule::FORMAT,
                "not a valid WAV file",
            ));
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };

    let id = format!("prompt-{}", uuid::Uuid::now_v7().simple());
    let key = format!("prompts/{id}.wav");
    prompt.audio = Some(PromptAudio {
        object_key: key.clone(),
        duration_ms: converted.duration_ms,
        sample_rate: SAMPLE_RATE,
    });
    let doc_body = serde_json::to_vec(&prompt).map_err(|e| ApiError::internal(&e))?;
    s.objects
        .put(tenant, &key, Bytes::from(converted.wav))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let doc = match crate::resources::save::<Prompt>(
        s,
        tenant,
        &id,
        &doc_body,
        Some(Expect::Absent),
    )
    .await
    {
        Ok((doc, _)) => doc,
        Err(e) => {
            // Nothing half-saved: the audio goes with the metadata that failed.
            if let Err(de) = s.objects.delete(tenant, &key).await {
                tracing::error!(tenant = %tenant, key = %key, error = %de, "cannot delete the audio of a prompt that was not saved");
            }
            return Err(e);
        }
    };
    tracing::info!(prompt = %id, frames = converted.frames, duration_ms = converted.duration_ms, "prompt uploaded");
    Ok(doc)
}

/// The stored WAV of one of the tenant's prompts, and the prompt's version
/// (transport-independent); 404 for another tenant's.
pub(crate) async fn prompt_audio(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
) -> Result<(Bytes, i64), ApiError> {
    let doc = get_doc::<Prompt>(s, tenant, id).await?;
    let p: Prompt = hotline_config::parse_stored(doc.body.as_bytes()).map_err(|e| {
        ApiError::internal(&std::io::Error::other(format!(
            "stored prompt {id} does not parse: {e}"
        )))
    })?;
    let a = p.audio.ok_or_else(|| ApiError::not_found("prompt audio"))?;
    match s.objects.get(tenant, &a.object_key).await {
        Ok(b) => Ok((b, doc.version)),
        Err(hotline_objects::Error::NotFound(_)) => {
            tracing::warn!(tenant = %tenant, prompt = %id, key = %a.object_key, "a prompt's audio is missing from the object store");
            Err(ApiError::not_found("prompt audio"))
        }
        Err(e) => Err(ApiError::internal(&e)),
    }
}

/// Deletes one of the tenant's prompts and its audio (transport-independent): 409 while
/// a queue, IVR menu or entry flow plays it; `expected` as `If-Match`.
#[tracing::instrument(name = "api.delete_prompt", skip_all, fields(tenant = %tenant))]
pub(crate) async fn delete_prompt(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
    expected: Option<i64>,
) -> Result<(), ApiError> {
    let doc = get_doc::<Prompt>(s, tenant, id).await?;
    // The document goes first (with its `ConfigChanged`), then the audio.
    delete_doc::<Prompt>(s, tenant, id, expected).await?;
    if let Ok(p) = hotline_config::parse_stored::<Prompt>(doc.body.as_bytes())
        && let Some(a) = p.audio
        && let Err(e) = s.objects.delete(tenant, &a.object_key).await
    {
        tracing::warn!(tenant = %tenant, prompt = %id, key = %a.object_key, error = %e, "prompt deleted, its audio stays behind");
    }
    Ok(())
}

#[tracing::instrument(name = "api.upload_prompt", skip_all, fields(tenant))]
async fn upload(
    State(s): State<AppState>,
    caller: Caller,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, roles(KIND, true))?.clone();
    tracing::Span::current().record("tenant", tracing::field::display(&tenant));
    if !is_wav(&headers) {
        return Err(unsupported_media_type());
    }
    let Query(q) = query.map_err(|e| ApiError::invalid("query", rule::FORMAT, e.body_text()))?;
    let prompt = prompt_meta(q.name.unwrap_or_default(), q.language.unwrap_or_default())?;
    let idem = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| {
                    ApiError::invalid("Idempotency-Key", "format", "1 to 255 visible characters")
                })?
                .to_owned(),
        ),
        None => None,
    };

    let bytes = read_limited(body).await?;
    let mut hasher = Sha256::new();
    for part in [
        KIND.as_bytes(),
        prompt.name.as_bytes(),
        prompt.language.as_bytes(),
    ] {
        hasher.update(part);
        hasher.update([0]);
    }
    hasher.update(&bytes);
    let request_hash: [u8; 32] = hasher.finalize().into();
    let idem_key = idem.map(|k| format!("{KIND}:{k}"));
    if let Some(key) = &idem_key
        && let Some(prev) = s.store.idempotency_get(&tenant, key).await?
    {
        if prev.request_hash != request_hash {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "reused",
                "this key was used for a different request",
            ));
        }
        let status = StatusCode::from_u16(prev.status).unwrap_or(StatusCode::OK);
        let body: Value = serde_json::from_str(&prev.body).unwrap_or(Value::Null);
        let mut resp = (status, Json(body)).into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(resp);
    }

    let doc = create_prompt(&s, &tenant, prompt, bytes).await?;
    let id = doc.id.clone();
    let v = view::<Prompt>(&doc)?;
    if let Some(k) = &idem_key {
        s.store
            .idempotency_put(&tenant, k, &request_hash, 201, &v.to_string())
            .await?;
    }
    let mut resp = with_etag(StatusCode::CREATED, &doc, v);
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/prompts/{id}")) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(KIND, false))?;
    let Query(q) = query.map_err(|e| ApiError::invalid("query", rule::FORMAT, e.body_text()))?;
    let (docs, next) =
        list_page::<Prompt>(&s, tenant, q.limit.unwrap_or(100), q.after, q.name).await?;
    let items = docs
        .iter()
        .map(view::<Prompt>)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "items": items, "next": next })).into_response())
}

async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(KIND, false))?;
    let doc = get_doc::<Prompt>(&s, tenant, &id).await?;
    Ok(with_etag(StatusCode::OK, &doc, view::<Prompt>(&doc)?))
}

async fn audio(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(false, roles(KIND, false))?;
    let (wav, version) = prompt_audio(&s, tenant, &id).await?;
    let mut resp = (StatusCode::OK, wav).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}

async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(true, roles(KIND, true))?.clone();
    let expected = crate::resources::if_match(&headers)?.flatten();
    delete_prompt(&s, &tenant, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// Amplitude of the `freq` component (Goertzel), over the middle of the signal so the
    /// tapered edges do not count.
    fn amplitude(x: &[f32], rate: u32, freq: f64) -> f64 {
        let skip = x.len() / 8;
        let x = &x[skip..x.len() - skip];
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            re += f64::from(s) * (w * i as f64).cos();
            im += f64::from(s) * (w * i as f64).sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn the_passband_is_flat_and_what_is_above_4_khz_does_not_alias() {
        for from in [48_000, 44_100, 16_000, 11_025] {
            for f in [300.0, 1000.0, 3000.0, 3300.0] {
                let out = resample(&tone(f, from, 1.0, 0.5), from, 8000);
                let a = amplitude(&out, 8000, f);
                assert!(
                    (db(a / 0.5)).abs() < 0.1,
                    "{from} Hz, {f} Hz tone: {:.3} dB",
                    db(a / 0.5)
                );
            }
            if from > 8000 {
                // A tone above the new Nyquist frequency would fold to 8000 - f.
                for f in [4100.0, 5000.0, 7000.0] {
                    let out = resample(&tone(f, from, 1.0, 0.5), from, 8000);
                    let alias = amplitude(&out, 8000, 8000.0 - f);
                    assert!(
                        db(alias / 0.5) < -70.0,
                        "{from} Hz, {f} Hz tone aliases at {:.1} dB",
                        db(alias / 0.5)
                    );
                }
            }
        }
    }

    #[test]
    fn upsampling_keeps_the_tone_and_makes_no_image() {
        let out = resample(&tone(1000.0, 4000, 1.0, 0.5), 4000, 8000);
        assert_eq!(out.len(), 8000);
        assert!(db(amplitude(&out, 8000, 1000.0) / 0.5).abs() < 0.1);
        // The image of 1 kHz at a 4 kHz rate would be at 3 kHz.
        assert!(db(amplitude(&out, 8000, 3000.0) / 0.5) < -70.0);
    }

    #[test]
    fn lengths_follow_the_rate_ratio() {
        assert_eq!(resample(&[0.0; 16_000], 16_000, 8000).len(), 8000);
        assert_eq!(resample(&[0.0; 44_100], 44_100, 8000).len(), 8000);
        assert_eq!(resample(&[0.0; 3], 44_100, 8000).len(), 1);
        assert_eq!(resample(&[0.25; 5], 8000, 8000), vec![0.25; 5]);
        // DC passes at unit gain away from the edges.
        let out = resample(&[0.5; 48_000], 48_000, 8000);
        assert!((out[4000] - 0.5).abs() < 1e-4, "{}", out[4000]);
    }

    fn wav(spec: hound::WavSpec, frames: usize, sample: impl Fn(usize, u16) -> f64) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut c, spec).expect("writer");
        for i in 0..frames {
            for ch in 0..spec.channels {
                let x = sample(i, ch);
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(x as f32).expect("write"),
                    hound::SampleFormat::Int => {
                        let max = (1i64 << (spec.bits_per_sample - 1)) as f64;
                        let v = ((x * max).round() as i64).clamp(-(max as i64), max as i64 - 1);
                        w.write_sample(v as i32).expect("write");
                    }
                }
            }
        }
        w.finalize().expect("finalize");
        c.into_inner()
    }

    fn spec(channels: u16, rate: u32, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn every_accepted_encoding_decodes_to_the_same_signal() {
        use hound::SampleFormat::{Float, Int};
        for (bits, format) in [(8, Int), (16, Int), (24, Int), (32, Int), (32, Float)] {
            for channels in [1, 2] {
                // Stereo: the tone on the left, its negation plus 0.2 on the right, so the
                // mix is a constant 0.1 and proves the channels are averaged.
                let body = wav(spec(channels, 8000, bits, format), 800, |i, ch| {
                    let t = 0.5 * (i as f64 * 0.3).sin();
                    if ch == 0 { t } else { 0.2 - t }
                });
                let (mono, rate) = decode(&body).expect("decodes");
                assert_eq!(
                    (mono.len(), rate),
                    (800, 8000),
                    "{bits} {format:?} {channels}"
                );
                let tolerance = if bits == 8 { 0.01 } else { 1e-4 };
                for (i, &x) in mono.iter().enumerate() {
                    let want = if channels == 1 {
                        0.5 * (i as f64 * 0.3).sin()
                    } else {
                        0.1
                    };
                    assert!(
                        (f64::from(x) - want).abs() < tolerance,
                        "{bits} {format:?} {channels}: sample {i} is {x}, not {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_uploads_are_refused_with_a_reason() {
        use hound::SampleFormat::Int;
        let no_audio = wav(spec(1, 8000, 16, Int), 0, |_, _| 0.0);
        assert_eq!(convert(&no_audio).unwrap_err().rule, rule::REQUIRED);
        let long = wav(spec(1, 100, 8, Int), 60_001, |_, _| 0.0);
        let r = convert(&long).unwrap_err();
        assert_eq!(r.rule, rule::RANGE);
        assert!(r.reason.contains("10 minutes"), "{}", r.reason);
        let surround = wav(spec(6, 8000, 16, Int), 10, |_, _| 0.0);
        assert!(
            convert(&surround)
                .unwrap_err()
                .reason
                .contains("6 channels")
        );
        let r = convert(b"hello, this is not a wav file at all").unwrap_err();
        assert!(r.reason.starts_with("not a valid WAV file"), "{}", r.reason);
        let good = wav(spec(1, 8000, 16, Int), 1000, |i, _| (i as f64).sin() * 0.1);
        let r = convert(&good[..good.len() - 100]).unwrap_err();
        assert_eq!(r.reason, "the WAV file is cut short");
        assert!(convert(&[]).is_err());
    }

    #[test]
    fn telephone_audio_passes_through_unchanged() {
        use hound::SampleFormat::Int;
        let body = wav(spec(1, 8000, 16, Int), 400, |i, _| {
            ((i % 50) as f64 - 25.0) / 100.0
        });
        let c = convert(&body).expect("converts");
        assert_eq!(c.wav, body, "8 kHz mono 16-bit is stored as uploaded");
        assert_eq!((c.frames, c.duration_ms), (400, 50));
    }

    /// Every prefix and many corruptions of a valid file are refused or decoded, never
    /// a panic.
    #[test]
    fn corrupt_files_never_panic() {
        use hound::SampleFormat::{Float, Int};
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for s in [spec(2, 16_000, 24, Int), spec(1, 44_100, 32, Float)] {
            let good = wav(s, 64, |i, _| (i as f64 * 0.1).sin() * 0.5);
            for cut in 0..good.len() {
                let _ = convert(&good[..cut]);
            }
            for _ in 0..3000 {
                let mut bad = good.clone();
                for _ in 0..1 + rnd() % 4 {
                    let at = (rnd() % 80) as usize % bad.len();
                    bad[at] = rnd() as u8;
                }
                let _ = convert(&bad);
            }
        }
    }
}
