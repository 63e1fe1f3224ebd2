//! The one HTTP client of a process: every AWS call and every webhook post
//! go through hyper's pooled HTTP/1.1 client, TLS by rustls with ring and
//! the system's trusted roots (read once, at the first connection).
//!
//! AWS's endpoints answer the SDK over HTTP/1.1. The SDK's own default
//! client also speaks HTTP/2 and proxies, which link h2, tower and a proxy
//! matcher into every function for calls that never use them.

use std::error::Error;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;

/// Opens HTTPS connections (and plain HTTP ones, to a local endpoint).
pub type HttpsConnector = hyper_rustls::HttpsConnector<TcpConnector>;

/// A pooled HTTP/1.1 client over [`HttpsConnector`], sending bodies `B`.
pub type HttpsClient<B> = Client<HttpsConnector, B>;

/// rustls with ring and the system's trusted roots, made once per process.
fn tls_config() -> Result<ClientConfig, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let config = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_native_roots()
            .map_err(|e| format!("no trusted TLS roots: {e}"))?
            .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .as_ref()
        .map(|config| ClientConfig::clone(config))
        .map_err(Clone::clone)
}

/// A pooled HTTP/1.1 client whose connections open within
/// `connect_timeout`; an error when the system has no trusted roots.
pub fn https_client<B>(connect_timeout: Option<Duration>) -> Result<HttpsClient<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(connect_timeout);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config()?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(Client::builder(TokioExecutor::new())
        // Without a timer, idle pooled connections are never let go.
        .pool_timer(TokioTimer::new())
        .build(connector))
}

/// The AWS SDK's HTTP client: [`https_client`], one per connect and read
/// timeout the SDK asks for (a process asks for one).
#[derive(Debug, Default)]
pub struct SdkHttpClient {
    connectors: Mutex<Vec<(Timeouts, SharedHttpConnector)>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl SdkHttpClient {
    pub fn shared() -> SharedHttpClient {
        SharedHttpClient::new(SdkHttpClient::default())
    }

    fn connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, connector)) = connectors.iter().find(|(t, _)| *t == timeouts) {
            return connector.clone();
        }
        let connector = SharedHttpConnector::new(SdkConnector {
            client: https_client(timeouts.0),
            read_timeout: timeouts.1,
        });
        connectors.push((timeouts, connector.clone()));
        connector
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector((settings.connect_timeout(), settings.read_timeout()))
    }
}

#[derive(Debug)]
struct SdkConnector {
    client: Result<HttpsClient<SdkBody>, String>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.client {
            Ok(client) => client.clone(),
            Err(e) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::other(
                    e.clone().into(),
                    None,
                )))
            }
        };
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let call = client.request(request);
            let answer = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, call)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
                None => call.await,
            };
            let response = answer.map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK's retries need to know of a failed call: whether it may be
/// tried again (a connection that could not open or broke: I/O; a timeout)
/// or not (a request that could not be sent as it is: the caller's error).
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let hyper = source::<hyper::Error>(&error);
    let kind: fn(_) -> ConnectorError = match hyper {
        _ if error.is_connect() => ConnectorError::io,
        Some(e) if e.is_timeout() => ConnectorError::timeout,
        Some(e) if e.is_user() => ConnectorError::user,
        Some(e) if e.is_closed() || e.is_canceled() => ConnectorError::io,
        _ if source::<std::io::Error>(&error).is_some() => ConnectorError::io,
        // The server closed the connection before its answer was whole
        // (an idle pooled connection it had dropped, say).
        Some(e) if e.is_incomplete_message() => {
            |e| ConnectorError::other(e, Some(ErrorKind::TransientError))
        }
        _ => |e| ConnectorError::other(e, None),
    };
    kind(error.into())
}

/// The first error of type `E` in `error`'s chain.
fn source<'a, E: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a E> {
    std::iter::successors(Some(error), |&e| e.source()).find_map(|e| e.downcast_ref::<E>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::byte_stream::ByteStream;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn connector(client: &SdkHttpClient) -> SharedHttpConnector {
        client.connector((Some(Duration::from_secs(2)), None))
    }

    async fn body(response: HttpResponse) -> Result<Vec<u8>, String> {
        ByteStream::new(response.into_body())
            .collect()
            .await
            .map(|bytes| bytes.to_vec())
            .map_err(|e| e.to_string())
    }

    fn get(url: &str) -> HttpRequest {
        let request = hyper::Request::get(url)
            .body(SdkBody::empty())
            .expect("request");
        HttpRequest::try_from(request).expect("request")
    }

    /// A server on loopback that answers each connection with `answer`
    /// (after reading its request), then closes it.
    fn server(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(answer);
            }
        });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn an_answer_comes_back_with_its_status_and_body() {
        let url = server(b"HTTP/1.1 418 I'm a teapot\r\ncontent-length: 5\r\n\r\nshort");
        let response = connector(&SdkHttpClient::default())
            .call(get(&url))
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 418);
        assert_eq!(response.body().bytes(), None, "streamed, not yet read");
        assert_eq!(body(response).await.as_deref(), Ok(&b"short"[..]));
    }

    #[tokio::test]
    async fn a_connection_refused_or_cut_short_may_be_retried_and_names_why() {
        // A port held for the whole test, bound but not listening: every
        // connection to it is refused (a released port could be taken).
        let held = tokio::net::TcpSocket::new_v4().expect("socket");
        held.bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let closed = format!("http://{}/", held.local_addr().expect("address"));
        let refused = connector(&SdkHttpClient::default())
            .call(get(&closed))
            .await
            .expect_err("nothing listens");
        assert!(refused.is_io(), "{refused:?}");

        let cut = server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this");
        let response = connector(&SdkHttpClient::default())
            .call(get(&cut))
            .await
            .expect("the head arrives");
        assert!(body(response).await.is_err(), "the body was cut short");

        let silent = server(b"");
        let hung_up = connector(&SdkHttpClient::default())
            .call(get(&silent))
            .await
            .expect_err("closed without an answer");
        assert!(
            hung_up.is_io() || hung_up.as_other() == Some(ErrorKind::TransientError),
            "{hung_up:?}"
        );
    }

    #[test]
    fn one_connector_serves_every_call_with_the_same_timeouts() {
        let client = SdkHttpClient::default();
        connector(&client);
        connector(&client);
        assert_eq!(client.connectors.lock().expect("lock").len(), 1);
    }
}
