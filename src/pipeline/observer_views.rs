//! What the caller may see of an upstream's message, decided after the
//! injection filter: tools whose definition left their pin, list entries the
//! caller may not use, other callers' tasks, and updates of resources the
//! caller may not read leave the message (or the message itself is dropped).

use super::super::{asks, record};
use super::{Delivery, Observer};
use crate::protocol::jsonrpc::Message;
use bytes::Bytes;
use serde_json::Value;

impl Observer {
    /// A `tools/list` answer loses the tools whose definition differs from
    /// their pin; each is one audit finding.
    pub(super) fn pin_tools(
        &self,
        message: &Message,
        answering: Option<&str>,
        delivery: Delivery,
    ) -> (Delivery, Vec<crate::audit::Finding>) {
        let Some(pinning) = self.shared.pinning.load_full() else {
            return (delivery, Vec::new());
        };
        if answering != Some("tools/list") {
            return (delivery, Vec::new());
        }
        let mut object = match &delivery {
            Delivery::Drop => return (delivery, Vec::new()),
            Delivery::Forward => message.as_object().clone(),
            Delivery::Replace(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(o)) => o,
                _ => return (delivery, Vec::new()),
            },
        };
        let Some(tools) = object
            .get_mut("result")
            .and_then(|r| r.get_mut("tools"))
            .and_then(Value::as_array_mut)
        else {
            return (delivery, Vec::new());
        };
        // Pins concern what the upstream sent, before the filter rewrote it.
        let sent = message
            .result()
            .and_then(|r| r.get("tools"))
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let withheld = pinning.check(&self.exchange.upstream, sent);
        if withheld.is_empty() {
            return (delivery, Vec::new());
        }
        tools.retain(|t| {
            let name = t.get("name").and_then(Value::as_str);
            !withheld.iter().any(|w| Some(w.tool.as_str()) == name)
        });
        let findings = withheld
            .into_iter()
            .map(|w| record::pin_finding(&self.exchange.upstream, message, w))
            .collect();
        let delivery = serde_json::to_vec(&object)
            .map(|b| Delivery::Replace(Bytes::from(b)))
            .unwrap_or(Delivery::Drop);
        (delivery, findings)
    }

    /// A list answer keeps only the entries the caller may use.
    pub(super) fn filter_list(
        &self,
        message: &Message,
        answering: Option<&str>,
        delivery: Delivery,
    ) -> Delivery {
        // Every exchange has a lister when authorization is on (it also
        // decides resource updates): only a list answer is copied to filter.
        let (Some(lister), Some(method)) = (&self.lister, answering) else {
            return delivery;
        };
        if !method.ends_with("/list") {
            return delivery;
        }
        let object = match &delivery {
            Delivery::Drop => return delivery,
            Delivery::Forward => message.as_object().clone(),
            Delivery::Replace(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(o)) => o,
                _ => return delivery,
            },
        };
        match lister.rewrite(method, &object) {
            Some(filtered) => serde_json::to_vec(&filtered)
                .map(|b| Delivery::Replace(Bytes::from(b)))
                .unwrap_or(Delivery::Drop),
            None => delivery,
        }
    }

    /// Another caller's tasks leave a `tasks/list` answer; a status
    /// notification for one is dropped ([`super::tasks`]).
    pub(super) fn own_tasks(
        &self,
        message: &Message,
        answering: Option<&str>,
        delivery: Delivery,
    ) -> Delivery {
        let relevant = answering == Some("tasks/list")
            || matches!(
                message.method(),
                Some("notifications/tasks/status" | "notifications/tasks")
            );
        if !relevant {
            return delivery;
        }
        let object = match &delivery {
            Delivery::Drop => return delivery,
            Delivery::Forward => Value::Object(message.as_object().clone()),
            Delivery::Replace(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => v,
                _ => return delivery,
            },
        };
        match self
            .shared
            .tasks
            .visible(&object, answering, &self.exchange.owner)
        {
            None => delivery,
            Some(None) => Delivery::Drop,
            Some(Some(mine)) => serde_json::to_vec(&mine)
                .map(|b| Delivery::Replace(Bytes::from(b)))
                .unwrap_or(Delivery::Drop),
        }
    }

    /// A resource's update the caller may not hear is dropped
    /// ([`asks::unreadable`]); the reason goes to audit.
    pub(super) fn readable_updates(
        &self,
        message: &Message,
        delivery: Delivery,
    ) -> (Delivery, Option<&'static str>) {
        match (&self.lister, &delivery) {
            (Some(lister), Delivery::Forward | Delivery::Replace(_)) => {
                match asks::unreadable(lister, message) {
                    Some(reason) => (Delivery::Drop, Some(reason)),
                    None => (delivery, None),
                }
            }
            _ => (delivery, None),
        }
    }
}
