//! The scrape-time series ([`super::scrape`]) pushed over OTLP too: one
//! observable instrument per family (a gauge, or a monotonic counter for the
//! `_total` families), same names, labels as attributes. The SDK reads them at
//! each export, on its own thread, through a [`Gather`] that the server builds
//! from the running gateway's state; the request path pays nothing for them.

use super::scrape::{FAMILIES, ScrapeState};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter};
use std::sync::Arc;

/// Hands the gateway's scrape state, read now, to a visitor (nothing when the
/// gateway is gone).
pub type Gather = Arc<dyn Fn(&mut dyn FnMut(&ScrapeState<'_>)) + Send + Sync>;

/// Registers every scrape-time family on `meter`, read through `gather`.
pub fn register(meter: &Meter, gather: &Gather) {
    for family in FAMILIES {
        let gather = Arc::clone(gather);
        let observe = move |instrument: &dyn AsyncInstrument<u64>| {
            gather(&mut |state: &ScrapeState<'_>| {
                state.samples(&family, |labels, value| {
                    let attributes: Vec<KeyValue> = labels
                        .iter()
                        .map(|(key, value)| KeyValue::new(*key, (*value).to_owned()))
                        .collect();
                    instrument.observe(value, &attributes);
                });
            });
        };
        // Registered callbacks live as long as the meter provider.
        if family.gauge {
            meter
                .u64_observable_gauge(family.name)
                .with_description(family.help)
                .with_callback(observe)
                .build();
        } else {
            meter
                .u64_observable_counter(family.name)
                .with_description(family.help)
                .with_callback(observe)
                .build();
        }
    }
}
