//! The audit trail (DynamoDB): a service's events, newest first.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use ecs_canary_core::HistoryEvent;

use crate::error::Failure;
use crate::AwsError;

const SERVICE: &str = "service";
const AT: &str = "at";
const EVENT: &str = "event";

/// The audit trail in a DynamoDB table: partition key `service` (the lock
/// key, `cluster/service`), sort key `at` (the event's
/// [`sort_key`](HistoryEvent::sort_key)), the event itself as JSON.
#[derive(Debug, Clone)]
pub struct History {
    client: Client,
    table: String,
}

impl History {
    pub fn new(client: Client, table: impl Into<String>) -> History {
        History {
            client,
            table: table.into(),
        }
    }

    /// Stores one event (the same event twice is one item). An item is
    /// written once and never overwritten: a write whose key is taken (a
    /// retried event) leaves the first one as it is.
    pub async fn record(&self, event: &HistoryEvent) -> Result<(), AwsError> {
        let json = serde_json::to_string(event).unwrap_or_default();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(SERVICE, AttributeValue::S(event.service.clone()))
            .item(AT, AttributeValue::S(event.sort_key()))
            .item("kind", AttributeValue::S(event.kind.as_str().into()))
            .item("execution", AttributeValue::S(event.execution.clone()))
            .item(EVENT, AttributeValue::S(json))
            .condition_expression("attribute_not_exists(#at)")
            .expression_attribute_names("#at", AT)
            .send()
            .await;
        // Not applied: the same event is there already.
        Failure::applied(result, "dynamodb:PutItem").map(|_| ())
    }

    /// A service's events, newest first, at most `limit`.
    pub async fn list(&self, service: &str, limit: usize) -> Result<Vec<HistoryEvent>, AwsError> {
        let mut events = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#service = :service")
                .expression_attribute_names("#service", SERVICE)
                .expression_attribute_values(":service", AttributeValue::S(service.into()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error("dynamodb:Query"))?;
            events.extend(
                page.items()
                    .iter()
                    .filter_map(|item| item.get(EVENT)?.as_s().ok())
                    .filter_map(|json| serde_json::from_str::<HistoryEvent>(json).ok()),
            );
            start = page.last_evaluated_key().cloned();
            if start.is_none() || events.len() >= limit {
                break;
            }
        }
        events.truncate(limit);
        Ok(events)
    }

    /// Every service with a history (each once, sorted).
    pub async fn services(&self) -> Result<Vec<String>, AwsError> {
        let mut services = std::collections::BTreeSet::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression("#service")
                .expression_attribute_names("#service", SERVICE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Failure::of(e).into_error("dynamodb:Scan"))?;
            services.extend(
                page.items()
                    .iter()
                    .filter_map(|item| item.get(SERVICE)?.as_s().ok().cloned()),
            );
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(services.into_iter().collect());
            }
        }
    }
}
