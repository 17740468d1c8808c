//! `system service`: podman's REST API (the Docker-compatible endpoints
//! and libpod's) on a unix or tcp socket. A front end beside `cmd/`: each
//! request becomes the engine calls the command line makes, and the
//! documents are the ones `cmd/` renders (`inspect`, `ps`, `images`
//! JSON), so the API and the CLI say the same things.
//!
//! Daemonless all the same: the listening process only accepts; every
//! connection is served by a forked child, which runs the engine exactly
//! as one CLI invocation does (its own store handle, its own forks for
//! container monitors). See docs/ARCHITECTURE.md, "The API service".

mod containers;
mod exec;
mod http;
mod images;
mod listen;
mod objects;
mod pods;
mod reply;
mod router;
mod system;
pub mod tls;

use crate::engine::types::Store;
use anyhow::Result;

/// The Docker API version the compatible endpoints speak (podman's).
pub const COMPAT_API_VERSION: &str = "1.41";
/// The oldest one a client may ask for.
pub const MIN_COMPAT_API_VERSION: &str = "1.24";

/// What `system service` was asked for.
pub struct ServiceOptions {
    /// The endpoint (`unix:///path`, `tcp://host:port`); `None`: socket
    /// activation, `PODMAN_SOCKET`, or the default socket.
    pub uri: Option<String>,
    /// Seconds without a connection before the service exits; 0: never.
    pub idle_seconds: u64,
    /// `--cors`: the Access-Control-Allow-Origin value.
    pub cors: Option<String>,
    /// `--tls-cert`/`--tls-key` (and `--tls-client-ca`): the listener
    /// speaks TLS.
    pub tls: Option<tls::TlsFiles>,
}

/// What every handler sees: how to open the store (in the connection's
/// child), and the service's settings.
pub struct Ctx<'a> {
    pub open_store: &'a dyn Fn() -> Result<Store>,
    pub cors: Option<String>,
    /// How long a kept-alive connection may wait for its next request
    /// (podman's HTTP IdleTimeout: twice the service's --time; none at 0),
    /// so an idle client's pooled connection does not keep the service.
    pub keep_alive_idle: Option<std::time::Duration>,
}

/// Serve until idle (or a SIGTERM/SIGINT).
pub fn serve(opts: ServiceOptions, open_store: &dyn Fn() -> Result<Store>) -> Result<()> {
    // A bad certificate or key is an error before anything listens.
    let tls = opts.tls.as_ref().map(tls::server_config).transpose()?;
    let ctx = Ctx {
        open_store,
        cors: opts.cors.clone(),
        keep_alive_idle: (opts.idle_seconds > 0)
            .then(|| std::time::Duration::from_secs(2 * opts.idle_seconds)),
    };
    listen::run(&opts, tls, &ctx)
}
