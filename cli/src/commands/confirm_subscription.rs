//! `ecs-canary confirm-subscription LINK`: confirm the approval email's
//! subscription with authentication on unsubscribe (a click on the link
//! confirms without it).

use serde_json::json;

use super::{print_json, Session};
use crate::exit::Exit;

pub async fn run(session: &Session, link: &str, topic: Option<&str>) -> Result<(), Exit> {
    let (topic, token) = confirmation(session, link, topic).await?;
    let (arn, authenticated) = session
        .clients()
        .notifications
        .confirm_authenticated(&topic, &token)
        .await?;
    if session.json {
        print_json(&json!({"subscription": arn, "authenticatedUnsubscribe": authenticated}));
    } else {
        println!("confirmed {arn}");
    }
    if !authenticated {
        return Err(Exit::new(
            1,
            "SNS does not record the confirmation as authenticated: unsubscribing stays open to anyone with the link",
        ));
    }
    if !session.json {
        println!("only the account can unsubscribe it: an unsubscribe link followed by a mail scanner does nothing");
    }
    Ok(())
}

/// The topic and token of a confirmation link (`…?Action=ConfirmSubscription&TopicArn=…&Token=…`).
async fn confirmation(
    session: &Session,
    link: &str,
    topic: Option<&str>,
) -> Result<(String, String), Exit> {
    let query = link.split_once('?').map_or("", |(_, q)| q);
    let field = |name: &str| ecs_canary_core::form_field(query, name);
    let token = field("Token").unwrap_or_else(|| link.trim().to_string());
    if token.is_empty() || token.contains(['/', ' ', '?']) {
        return Err(Exit::new(
            2,
            "give the confirmation link from SNS's email (or its token)",
        ));
    }
    let topic = match topic.map(str::to_string).or_else(|| field("TopicArn")) {
        Some(topic) => topic,
        None => session
            .stack_output("ApprovalTopicArn")
            .await?
            .ok_or_else(|| Exit::new(2, "name the topic with --topic"))?,
    };
    Ok((topic, token))
}
