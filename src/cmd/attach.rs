//! `attach`: to a running container's output (and input with `-i`).

use super::GlobalOpts;
use crate::engine::attach::{self, AttachRequest};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Select the key sequence for detaching a container (default ctrl-p,ctrl-q; "" turns it off)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Act on the latest container coracle is aware of
    #[arg(short, long)]
    pub latest: bool,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy received signals to the process (not with a terminal, whose keys go through)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    /// Container name or id
    pub container: Option<String>,
}

pub fn attach(g: &GlobalOpts, a: AttachArgs) -> Result<()> {
    let req = AttachRequest {
        no_stdin: a.no_stdin,
        detach_keys: a.detach_keys,
        sig_proxy: a.sig_proxy,
    };
    attach::parse_detach_keys(req.detach_keys.as_deref())?;
    let names: Vec<String> = a.container.into_iter().collect();
    if !a.latest && names.len() != 1 {
        anyhow::bail!("attach requires the name or id of one running container");
    }
    let store = g.open_store()?;
    let list = super::selection::targets(&store, &names, false, a.latest, false)?;
    attach::attach(&store, &list[0].1, &req)
}
