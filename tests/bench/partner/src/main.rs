//! `bench-partner --dns 127.0.0.1:PORT --https 127.0.0.2:PORT --cert CERT.pem --key KEY.pem
//! --address 127.0.0.2 --delay-ms 100`: answers every A query with `--address` (AAAA: no
//! record), and HTTPS with 200 after `--delay-ms`, each query and connection in its own task.
//! Prints `ready` once both listen.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, UdpSocket};

fn arg(name: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| panic!("{name} is required"))
}

fn answer(query: &[u8], address: Ipv4Addr) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut reply = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = ResponseCode::NoError;
    for query in &request.queries {
        reply.add_query(query.clone());
        if query.query_type() == RecordType::A {
            reply.add_answer(Record::from_rdata(query.name().clone(), 60, RData::A(A(address))));
        }
    }
    reply.to_vec().ok()
}

async fn serve_dns(socket: Arc<UdpSocket>, address: Ipv4Addr) {
    let mut buffer = [0u8; 1500];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else { continue };
        let query = buffer[..len].to_vec();
        let socket = Arc::clone(&socket);
        tokio::spawn(async move {
            if let Some(reply) = answer(&query, address) {
                let _ = socket.send_to(&reply, from).await;
            }
        });
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dns: SocketAddr = arg("--dns").parse().expect("--dns IP:PORT");
    let https: SocketAddr = arg("--https").parse().expect("--https IP:PORT");
    let address: Ipv4Addr = arg("--address").parse().expect("--address IPv4");
    let delay = Duration::from_millis(arg("--delay-ms").parse().expect("--delay-ms N"));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(arg("--cert"))
        .expect("--cert PEM")
        .collect::<Result<_, _>>()
        .expect("--cert PEM");
    let key = PrivateKeyDer::from_pem_file(arg("--key")).expect("--key PEM");
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let udp = Arc::new(UdpSocket::bind(dns).await.expect("DNS port"));
    tokio::spawn(serve_dns(udp, address));
    let listener = TcpListener::bind(https).await.expect("HTTPS port");
    println!("ready");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else { return };
            let service = hyper::service::service_fn(move |_request| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok\n"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
