//! The demo tenant `make run` starts with: a number, hours open around the clock, an IVR
//! ("1 for sales, 2 for support"), two queues and three agents in both. Everything goes
//! through the same validation and storage as the API, and the facts a script needs are
//! written to `<data_dir>/demo.json`.
//!
//! Idempotent: when the demo tenant and its `demo.json` exist, both are kept as they
//! are; when the file was lost, the tenant is made again so the file can hold working
//! credentials.

use std::path::Path;

use hotline_core::TenantId;
use hotline_store::{ApiKeyNew, NewTenant, PhoneNumber};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{self, Role};
use crate::http::{ApiError, ApiState};
use crate::resources::{changed, save};

/// The demo tenant's id.
pub const TENANT: &str = "demo";
/// The demo number.
pub const NUMBER: &str = "+15550100";

/// What `demo.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoInfo {
    pub tenant_id: String,
    pub api_key: String,
    pub number: String,
    pub sip_domain: String,
    pub queues: Vec<Named>,
    pub agents: Vec<DemoAgent>,
}

/// A queue of the demo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// An agent of the demo, with the SIP credentials a softphone registers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoAgent {
    pub id: String,
    pub name: String,
    pub sip_username: String,
    pub sip_password: String,
}

fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).map_err(|e| ApiError::internal(&std::io::Error::other(e)))?;
    Ok(hex::encode(raw))
}

async fn put<R: hotline_config::Resource>(
    s: &ApiState,
    tenant: &TenantId,
    id: &str,
    body: serde_json::Value,
) -> Result<(), ApiError> {
    save::<R>(s, tenant, id, body.to_string().as_bytes(), None).await?;
    Ok(())
}

/// Makes sure the demo tenant exists and `<data_dir>/demo.json` describes it.
pub async fn ensure(s: &ApiState, data_dir: &Path, sip_domain: &str) -> Result<DemoInfo, ApiError> {
    let file = data_dir.join("demo.json");
    let tenant = TenantId::new(TENANT).map_err(|e| ApiError::internal(&e))?;
    let existing = s.store.tenant(&tenant).await?;
    if existing.is_some()
        && let Ok(text) = std::fs::read_to_string(&file)
        && let Ok(info) = serde_json::from_str::<DemoInfo>(&text)
    {
        return Ok(info);
    }
    if existing.is_some() {
        s.store.delete_tenant(&tenant).await?;
    }
    s.store
        .create_tenant(NewTenant {
            id: tenant.clone(),
            name: "Demo Company".into(),
            time_zone: "UTC".into(),
            locale: "en".into(),
        })
        .await?;
    let key = auth::new_key().map_err(|e| ApiError::internal(&std::io::Error::other(e)))?;
    s.store
        .create_api_key(ApiKeyNew {
            id: format!("key-{}", uuid::Uuid::now_v7().simple()),
            tenant: tenant.clone(),
            hash: key.hash,
            role: Role::Admin.as_str().into(),
            label: "demo".into(),
        })
        .await?;

    let all_day = json!([{"start": "00:00", "end": "24:00"}]);
    let week: serde_json::Map<String, serde_json::Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| ((*d).to_owned(), all_day.clone()))
    .collect();
    put::<hotline_config::BusinessHours>(
        s,
        &tenant,
        "always",
        json!({"name": "Around the clock", "schedule": week}),
    )
    .await?;
    let queues = vec![
        Named {
            id: "sales".into(),
            name: "Sales".into(),
        },
        Named {
            id: "support".into(),
            name: "Support".into(),
        },
    ];
    for q in &queues {
        put::<hotline_config::Queue>(
            s,
            &tenant,
            &q.id,
            json!({"name": q.name, "strategy": "least-recent", "ring_timeout_seconds": 15,
                   "wrap_up_seconds": 5}),
        )
        .await?;
    }
    let mut agents = Vec::new();
    for (i, (id, name)) in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]
        .into_iter()
        .enumerate()
    {
        let password = random_hex(12)?;
        put::<hotline_config::Agent>(
            s,
            &tenant,
            id,
            json!({"name": name, "extension": format!("{}", 1001 + i), "sip_username": id,
                   "sip_password": password,
                   "queues": [{"queue": "sales", "penalty": 0}, {"queue": "support", "penalty": 0}]}),
        )
        .await?;
        agents.push(DemoAgent {
            id: id.into(),
            name: name.into(),
            sip_username: id.into(),
            sip_password: password,
        });
    }
    put::<hotline_config::IvrMenu>(
        s,
        &tenant,
        "main",
        json!({"name": "Main menu", "choices": [
            {"digit": "1", "action": {"type": "queue", "id": "sales"}},
            {"digit": "2", "action": {"type": "queue", "id": "support"}}]}),
    )
    .await?;
    put::<hotline_config::EntryFlow>(
        s,
        &tenant,
        "main",
        json!({"name": "Main line", "business_hours": "always",
               "start": {"type": "ivr-menu", "id": "main"}}),
    )
    .await?;
    s.store
        .add_number_with(
            PhoneNumber {
                tenant: tenant.clone(),
                number: NUMBER.into(),
                entry_flow: "main".into(),
            },
            Some(changed(&tenant, "phone-number", NUMBER, 1)),
        )
        .await?;

    let info = DemoInfo {
        tenant_id: TENANT.into(),
        api_key: key.plaintext.expose().to_owned(),
        number: NUMBER.into(),
        sip_domain: sip_domain.into(),
        queues,
        agents,
    };
    write_private(
        &file,
        &serde_json::to_vec_pretty(&info).map_err(|e| ApiError::internal(&e))?,
    )
    .map_err(|e| ApiError::internal(&e))?;
    Ok(info)
}

/// Writes a file only its owner can read (it holds credentials).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
