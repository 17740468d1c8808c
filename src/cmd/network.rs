//! `network create|ls|inspect|rm|prune|exists`: flags in, engine calls,
//! podman's output out (netavark's JSON for inspect and `ls --format json`).

use super::output::{confirm, print_inspect, print_lines, print_table, println};
use super::GlobalOpts;
use crate::engine::networks::{self as nets, Filter, Listed};
use crate::engine::types::Store;
use crate::error::SilentExit;
use crate::format::table;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Check if a network exists
    Exists(ExistsArgs),
    /// Add container to a network
    Connect(ConnectArgs),
    /// Remove container from a network
    Disconnect(DisconnectArgs),
    /// Reload firewall rules for one or more containers
    Reload(ReloadArgs),
    /// Change a network's DNS servers
    Update(UpdateArgs),
}

pub fn dispatch(g: &GlobalOpts, c: NetworkCommand) -> Result<()> {
    match c {
        NetworkCommand::Create(a) => create(g, a),
        NetworkCommand::Ls(a) => ls(g, a),
        NetworkCommand::Inspect(a) => inspect(g, a),
        NetworkCommand::Rm(a) => rm(g, a),
        NetworkCommand::Prune(a) => prune(g, a),
        NetworkCommand::Exists(a) => exists(g, a),
        NetworkCommand::Connect(a) => connect(g, a),
        NetworkCommand::Disconnect(a) => disconnect(g, a),
        NetworkCommand::Reload(a) => reload(g, a),
        NetworkCommand::Update(a) => update(g, a),
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the network (bridge, macvlan, ipvlan)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format
    #[arg(long, value_name = "SUBNET")]
    pub subnet: Vec<String>,
    /// Gateway for the subnet (one per --subnet, in order)
    #[arg(long, value_name = "GATEWAY")]
    pub gateway: Vec<String>,
    /// Allocate container IP from a range (CIDR inside the subnet)
    #[arg(long = "ip-range", value_name = "RANGE")]
    pub ip_range: Vec<String>,
    /// Restrict external access from this network
    #[arg(long)]
    pub internal: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// DNS servers this network's name server forwards to
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "LABEL")]
    pub label: Vec<String>,
    /// Set driver specific options (bridge: mtu; macvlan/ipvlan: parent, mode, mtu, no_default_route)
    #[arg(short, long = "opt", value_name = "OPTION")]
    pub opt: Vec<String>,
    /// Disable DNS plugin
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// Name of the bridge interface; for macvlan/ipvlan the parent device
    #[arg(long = "interface-name", value_name = "NAME")]
    pub interface_name: Option<String>,
    /// IP address management driver (host-local)
    #[arg(long = "ipam-driver", value_name = "DRIVER")]
    pub ipam_driver: Option<String>,
    /// Don't fail if network already exists
    #[arg(long)]
    pub ignore: bool,
    /// A static route for every member: DESTINATION/PREFIX,GATEWAY[,METRIC] (repeatable)
    #[arg(long, value_name = "ROUTE")]
    pub route: Vec<String>,
    /// The network's name (podmanN when missing)
    pub name: Option<String>,
}

pub fn create(g: &GlobalOpts, a: CreateArgs) -> Result<()> {
    let store = g.open_store()?;
    let name = nets::create(
        &store,
        nets::NewNetwork {
            name: a.name,
            driver: a.driver,
            subnets: a.subnet,
            gateways: a.gateway,
            ip_ranges: a.ip_range,
            internal: a.internal,
            ipv6: a.ipv6,
            dns: a.dns,
            labels: crate::engine::filter::key_values(&a.label),
            options: a.opt,
            disable_dns: a.disable_dns,
            interface_name: a.interface_name,
            ipam_driver: a.ipam_driver,
            ignore_existing: a.ignore,
            routes: a.route,
        },
    )?;
    println(&name)
}

/// netavark's document of a network, with podman's `containers` map of
/// the running members.
pub(crate) fn network_json(store: &Store, l: &Listed) -> Value {
    let mut doc = serde_json::to_value(&l.network).unwrap_or(Value::Null);
    let mut members = serde_json::Map::new();
    for cfg in &l.containers {
        let eps = nets::endpoints(store, cfg);
        let mut ifaces = serde_json::Map::new();
        for ep in eps.iter().filter(|e| e.network == l.network.name) {
            let mut subnets = Vec::new();
            if let Some(ip) = ep.ip {
                subnets.push(json!({"ipnet": format!("{ip}/{}", ep.prefix), "gateway": ep.gateway.map(|g| g.to_string())}));
            }
            if let Some(ip6) = ep.ip6 {
                subnets.push(json!({"ipnet": format!("{ip6}/{}", ep.prefix6), "gateway": ep.gateway6.map(|g| g.to_string())}));
            }
            ifaces.insert(
                ep.interface.clone(),
                json!({"subnets": subnets, "mac_address": ep.mac}),
            );
        }
        if !ifaces.is_empty() {
            members.insert(
                cfg.id.clone(),
                json!({"name": cfg.name, "interfaces": ifaces}),
            );
        }
    }
    doc["containers"] = Value::Object(members);
    doc
}

/// What templates see: podman's Go field names.
fn template_view(l: &Listed) -> Value {
    let n = &l.network;
    json!({
        "Name": n.name,
        "ID": &n.id[..n.id.len().min(12)],
        "Driver": n.driver,
        "NetworkInterface": n.network_interface,
        "Created": n.created,
        "Subnets": n.subnets.iter().map(|s| json!({"Subnet": s.subnet, "Gateway": s.gateway})).collect::<Vec<_>>(),
        "IPv6Enabled": n.ipv6_enabled,
        "Internal": n.internal,
        "DNSEnabled": n.dns_enabled,
        "Labels": n.labels,
        "Options": n.options,
        "IPAMOptions": n.ipam_options,
        "NetworkDNSServers": n.network_dns_servers,
        "Routes": n.routes,
    })
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'name=podman')
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print networks to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
    /// Display the network ID without truncation
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Display only the network names
    #[arg(short, long)]
    pub quiet: bool,
}

pub(crate) fn filters(items: &[String], for_prune: bool) -> Result<Vec<Filter>> {
    items.iter().map(|f| Filter::parse(f, for_prune)).collect()
}

pub fn ls(g: &GlobalOpts, a: LsArgs) -> Result<()> {
    let filters = filters(&a.filter, false)?;
    let store = g.open_store()?;
    let list = nets::list(&store, &filters)?;
    if a.quiet {
        return print_lines(&list.iter().map(|l| &l.network.name).collect::<Vec<_>>());
    }
    if a.format.as_deref().map(str::trim) == Some("json") {
        let docs: Vec<Value> = list.iter().map(|l| network_json(&store, l)).collect();
        return println(&table::json_indented(&Value::Array(docs), 5));
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|l| {
            let mut v = template_view(l);
            if a.no_trunc {
                v["ID"] = json!(l.network.id);
            }
            v
        })
        .collect();
    print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}",
        &[("ID", "NETWORK ID"), ("Name", "NAME"), ("Driver", "DRIVER")],
        &rows,
        a.noheading,
    )
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format the output using JSON or a Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn inspect(g: &GlobalOpts, a: InspectArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut users = nets::users(&store)?;
    let mut docs = Vec::new();
    let mut views = Vec::new();
    for n in &a.names {
        match nets::find(&store, n) {
            Ok(network) => {
                let l = Listed {
                    containers: users.remove(&network.name).unwrap_or_default(),
                    network,
                };
                docs.push(network_json(&store, &l));
                views.push(template_view(&l));
            }
            Err(e) => {
                // podman prints what it found, then the error.
                if a.format.is_none() && !docs.is_empty() {
                    print_inspect(&docs, None)?;
                }
                return Err(e);
            }
        }
    }
    match a.format.as_deref() {
        None | Some("json") => print_inspect(&docs, None),
        Some(f) => {
            // Templates see netavark's keys too (podman's are its struct's).
            let merged: Vec<Value> = docs
                .into_iter()
                .zip(views)
                .map(|(mut d, v)| {
                    if let (Some(d), Value::Object(v)) = (d.as_object_mut(), v) {
                        d.extend(v);
                    }
                    d
                })
                .collect();
            print_inspect(&merged, Some(f))
        }
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Remove any containers using the network
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for running containers to stop before killing them
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    pub time: Option<u32>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn rm(g: &GlobalOpts, a: RmArgs) -> Result<()> {
    let store = g.open_store()?;
    let removed = nets::remove(
        &store,
        &nets::Removal {
            names: a.names,
            force: a.force,
            stop_timeout: a.time,
        },
    )?;
    print_lines(&removed)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub fn prune(g: &GlobalOpts, a: PruneArgs) -> Result<()> {
    let filters = filters(&a.filter, true)?;
    let store = g.open_store()?;
    if !a.force
        && !confirm("WARNING! This will remove all networks not used by at least one container.")?
    {
        return Ok(());
    }
    let removed = nets::prune(&store, &filters)?;
    print_lines(&removed)
}

#[derive(Args, Debug)]
pub struct ExistsArgs {
    pub name: String,
}

pub fn exists(g: &GlobalOpts, a: ExistsArgs) -> Result<()> {
    let store = g.open_store()?;
    if nets::exists(&store, &a.name)? {
        Ok(())
    } else {
        Err(SilentExit(1).into())
    }
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Network scoped alias for the container
    #[arg(long = "alias", value_name = "NAME")]
    pub alias: Vec<String>,
    /// Static IPv4 address for the container on this network
    #[arg(long)]
    pub ip: Option<String>,
    /// Static IPv6 address for the container on this network
    #[arg(long)]
    pub ip6: Option<String>,
    /// Static MAC address for the container on this network
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    pub network: String,
    pub container: String,
}

pub fn connect(g: &GlobalOpts, a: ConnectArgs) -> Result<()> {
    let mut want = nets::attachment(a.ip.as_deref(), a.mac_address.as_deref(), &a.alias)?;
    want.ip6 = a.ip6.as_deref().map(nets::parse_ip6).transpose()?;
    let store = g.open_store()?;
    nets::connect(&store, &a.network, &a.container, want)
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Disconnect in the container's record even when its interface cannot be taken down
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

pub fn disconnect(g: &GlobalOpts, a: DisconnectArgs) -> Result<()> {
    let store = g.open_store()?;
    nets::disconnect(&store, &a.network, &a.container, a.force)
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Add network-level DNS servers (comma-separated or repeated)
    #[arg(long = "dns-add", value_name = "IP", value_delimiter = ',')]
    pub dns_add: Vec<String>,
    /// Remove network-level DNS servers (comma-separated or repeated)
    #[arg(long = "dns-drop", value_name = "IP", value_delimiter = ',')]
    pub dns_drop: Vec<String>,
    pub network: String,
}

pub fn update(g: &GlobalOpts, a: UpdateArgs) -> Result<()> {
    let store = g.open_store()?;
    nets::update(&store, &a.network, &a.dns_add, &a.dns_drop)?;
    println(&a.network)
}

#[derive(Args, Debug)]
pub struct ReloadArgs {
    /// Reload network configuration of all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container coracle created
    #[arg(short, long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

pub fn reload(g: &GlobalOpts, a: ReloadArgs) -> Result<()> {
    let store = g.open_store()?;
    let mut containers = a.containers;
    if a.latest {
        if a.all || !containers.is_empty() {
            anyhow::bail!("--latest and containers or --all cannot be used together");
        }
        containers.push(crate::engine::containers::latest_id(&store)?);
    }
    let done = nets::reload(&store, &containers, a.all)?;
    print_lines(&done)
}
