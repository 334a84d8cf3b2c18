//! The `hotline` binary as a user runs it: bad settings fail fast and name themselves;
//! all-in-one comes up ready with every service and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    // Only what a test sets reaches the process.
    for (k, _) in std::env::vars() {
        if k.starts_with("HOTLINE_") {
            c.env_remove(k);
        }
    }
    c
}

fn run_bad(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = hotline();
    c.args(args).envs(env.iter().copied());
    let out = c.output().expect("run hotline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_setting_fails_before_anything_starts_and_names_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.display().to_string();

    let (code, err) = run_bad(
        &["all-in-one", "--data-dir", &data_arg],
        &[("HOTLINE_HTTP_PORT", "notaport")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("http.port"), "{err}");
    assert!(err.contains("HOTLINE_HTTP_PORT"), "{err}");
    assert!(!data.exists(), "nothing may start on a bad config");

    let (code, err) = run_bad(&["all-in-one"], &[("HOTLINE_HTTP_PORT", "70000")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("http.port"), "{err}");

    let (code, err) = run_bad(&["all-in-one"], &[("HOTLINE_BUS_KIND", "pigeon")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bus.kind"), "{err}");

    let (code, err) = run_bad(&["all-in-one"], &[("HOTLINE_TELEMETRY_LOG_FORMAT", "xml")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("telemetry.log_format"), "{err}");

    let cfg = dir.path().join("hotline.toml");
    std::fs::write(&cfg, "[routing.grpc]\nprot = 1\n").expect("write");
    let (code, err) = run_bad(&["--config", &cfg.display().to_string(), "routing"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("routing.grpc.prot"), "{err}");
}

#[test]
fn a_standalone_service_refuses_in_process_backends() {
    let (code, err) = run_bad(&["routing"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bus.kind"), "{err}");
    assert!(err.contains("all-in-one"), "{err}");

    // The error says where the value came from.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("hotline.toml");
    std::fs::write(&cfg, "[bus]\nkind = \"memory\"\n").expect("write");
    let (code, err) = run_bad(&["--config", &cfg.display().to_string(), "crm"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("from file {}", cfg.display())),
        "{err}"
    );
}

#[test]
fn the_config_file_variable_is_not_taken_for_a_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("hotline.toml");
    std::fs::write(&cfg, "grace_period_seconds = 7\n").expect("write");
    let out = hotline()
        .arg("check-config")
        .env("HOTLINE_CONFIG", &cfg)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("grace_period_seconds: 7"), "{err}");
    assert!(!err.contains("names no setting"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_one_is_ready_with_every_service_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = free_port();
    let mut c = hotline();
    c.args(["all-in-one", "--demo", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("HOTLINE_HTTP_PORT", http.to_string())
        .env("HOTLINE_GRACE_PERIOD_SECONDS", "10")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for svc in [
        "ingress",
        "routing",
        "recording",
        "crm",
        "analytics",
        "api",
        "operator",
    ] {
        c.env(format!("HOTLINE_{}_GRPC_PORT", svc.to_uppercase()), "0");
        if svc != "api" {
            c.env(format!("HOTLINE_{}_OPS_PORT", svc.to_uppercase()), "0");
        }
    }
    let mut child = c.spawn().expect("spawn all-in-one");

    let base = format!("http://127.0.0.1:{http}");
    let start = Instant::now();
    let ready = loop {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == 200
        {
            break true;
        }
        if start.elapsed() > Duration::from_secs(60) || child.try_wait().ok().flatten().is_some() {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if !ready {
        let _ = child.kill();
        panic!("all-in-one never became ready");
    }
    let body = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("readyz")
        .text()
        .await
        .expect("body");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    for svc in [
        "ingress",
        "routing",
        "recording",
        "crm",
        "analytics",
        "api",
        "operator",
    ] {
        assert!(body.contains(&format!("\"service\":\"{svc}\"")), "{body}");
        assert!(
            metrics.contains(&format!("hotline_{svc}_build_info")),
            "{metrics}"
        );
    }
    assert!(
        dir.path().join("data/hotline.db").exists(),
        "embedded store is a file"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("all-in-one did not stop within the grace period");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
}

/// The sample configuration in `deploy/config` is exactly the defaults, so it never lies.
#[test]
fn the_sample_config_is_the_defaults() {
    let out = hotline().arg("default-config").output().expect("run");
    assert!(out.status.success());
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/config/hotline.toml"
    );
    let committed = std::fs::read_to_string(sample).expect("deploy/config/hotline.toml");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "regenerate with: hotline default-config > deploy/config/hotline.toml"
    );
    // And it loads.
    let out = hotline()
        .args(["--config", sample, "check-config"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
