//! Prometheus metrics. Each service owns a registry prefixed `hotline_<service>`; the
//! all-in-one binary serves every service's registry on one `/metrics`.

use std::sync::Arc;

use prometheus_client::registry::Registry;

/// A service's metric registry, shared read-only once the service is built.
pub type MetricsRegistry = Arc<Registry>;

/// A fresh registry for `service`: every metric in it is named `hotline_<service>_…`.
pub fn registry_for(service: &str) -> Registry {
    Registry::with_prefix(format!("hotline_{service}"))
}

/// The Prometheus text exposition of several registries, as one scrape.
pub fn encode(registries: &[&Registry]) -> String {
    let mut out = String::new();
    for r in registries {
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, r);
    }
    let _ = prometheus_client::encoding::text::encode_eof(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn names_carry_the_service_prefix_and_registries_concatenate() {
        let mut a = registry_for("routing");
        let c: Counter = Counter::default();
        a.register("offers", "offers made", c.clone());
        c.inc();
        let mut b = registry_for("crm");
        b.register("lookups", "lookups", Counter::<u64>::default());
        let text = encode(&[&a, &b]);
        assert!(text.contains("hotline_routing_offers_total 1"), "{text}");
        assert!(text.contains("hotline_crm_lookups_total 0"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
