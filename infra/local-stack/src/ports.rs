//! Loopback ports: bind them up front and fail with a message that says which setting to change.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(
        "port {port} ({env}) is already in use on 127.0.0.1: stop whatever uses it, or choose another port \
         with {env}=<port> or {flag} <port> (0 picks a free one)"
    )]
    InUse {
        port: u16,
        env: &'static str,
        flag: &'static str,
    },
    #[error("cannot listen on 127.0.0.1:{port} ({env}): {source}")]
    Bind {
        port: u16,
        env: &'static str,
        source: std::io::Error,
    },
}

/// Binds 127.0.0.1:`port` (0 = any free port). `env` and `flag` name the setting in the error.
pub async fn bind(
    port: u16,
    env: &'static str,
    flag: &'static str,
) -> Result<TcpListener, PortError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            PortError::InUse { port, env, flag }
        } else {
            PortError::Bind { port, env, source }
        }
    })
}

/// Checks that a child process can listen on `port` (0 = pick a free one) and returns the port to give it.
pub fn reserve_for_child(
    port: u16,
    env: &'static str,
    flag: &'static str,
) -> Result<u16, PortError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = std::net::TcpListener::bind(addr).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            PortError::InUse { port, env, flag }
        } else {
            PortError::Bind { port, env, source }
        }
    })?;
    let chosen = listener
        .local_addr()
        .map_err(|source| PortError::Bind { port, env, source })?
        .port();
    drop(listener);
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_names_the_setting_to_change() {
        let taken = bind(0, "API_PORT", "--api-port").await.expect("free port");
        let port = taken.local_addr().expect("addr").port();
        let err = bind(port, "API_PORT", "--api-port")
            .await
            .expect_err("port is taken");
        let text = err.to_string();
        assert!(text.contains(&format!("port {port} (API_PORT)")), "{text}");
        assert!(text.contains("--api-port"), "{text}");
        let err = reserve_for_child(port, "MOTO_PORT", "--moto-port").expect_err("taken");
        assert!(err.to_string().contains("MOTO_PORT"));
    }
}
