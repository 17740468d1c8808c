//! The prose of the man pages that clap's definitions do not carry:
//! longer descriptions, examples, exit status and files. Pages are named
//! as their files (`coracle-run`, `coracle-secret-create`).

/// Longer text after the one-line summary, for the pages that need it.
pub fn description(page: &str) -> Option<&'static str> {
    Some(match page {
        "coracle" => "coracle is a daemonless, rootless tool to build, run and manage OCI containers and images, with podman's command line: `alias podman=coracle` and `alias docker=coracle` are meant to work. Run as root it keeps its store in /var/lib/coracle; run as any other user, in that user's home, with the containers inside a user namespace made from the subordinate ids of /etc/subuid and /etc/subgid.",
        "coracle-run" => "Create a container from IMAGE and start COMMAND in it (the image's ENTRYPOINT and CMD when none is given). In the foreground coracle relays the terminal or standard streams and exits with the command's status; with --detach it prints the new container's ID and leaves it running.",
        "coracle-secret" => "A secret is a blob of sensitive data a container needs at run time but which must not be stored in an image or in a container's configuration: passwords, keys, tokens (up to 512 kB). coracle keeps secrets in its store (the file driver), readable only by their owner, and gives them to containers with run --secret, as a file (/run/secrets/NAME) or an environment variable. inspect never shows the data unless asked with --showsecret.",
        "coracle-completion" => "Print a completion script for bash, zsh, fish or PowerShell. Load it in the current shell, e.g. `source <(coracle completion bash)`, or install it where the shell looks (contrib/install.sh does this for bash, zsh and fish).",
        "coracle-attach" => "Attach to a running container: its output is shown as it comes (what it printed before is in `coracle logs`), and with -i your input goes to it. The container's monitor serves the attach socket, readable by its owner only, so any number of clients may attach at once. The detach keys (default ctrl-p ctrl-q) leave the container running; otherwise attach ends when the container's program does, with its exit status.",
        "coracle-mount" => "Mount a container's root filesystem where the host can reach it (the overlay of its image layers and its own changes) and print the path. Mounts are counted: each unmount takes one, the last one unmounts. Without arguments, list the mounted containers. Rootless, the mount can only be made in the user and mount namespaces of `coracle unshare` (as podman's), and lives there.",
        "coracle-init" => "Prepare a container to start without starting it: its OCI spec is in place (inspect's OCIConfigPath) and, as root, its root filesystem is mounted (coracle mount lists it), so both can be inspected before anything runs; the state is `initialized`. coracle makes the container's namespaces, its network and its process together when it starts, so those wait for `coracle start`. Rootless, the root filesystem is mounted by start, as for any container (coracle mount works inside coracle unshare). start runs an initialized container, stop ends it (exited, 137, as podman), rm removes it with its mount. An initialized or running container named is an error; --all leaves those alone.",
        "coracle-cp" => "Copy files and directories between a container and the local filesystem. A path in a container is written CONTAINER:PATH; `-` as the source reads a tar stream from standard input, as the destination writes one to standard output.",
        "coracle-artifact" => "An OCI artifact is a set of files stored as the layers of an OCI image manifest with the empty configuration, each layer named by its org.opencontainers.image.title annotation: a model, a configuration, a signature, anything that is not a container image but travels through the same registries. coracle keeps artifacts in an OCI image layout of their own in its store (artifacts/ under the root), found by their full name (REGISTRY/NAME[:TAG]) or a prefix of their manifest's digest.",
        "coracle-artifact-extract" => "Copy an artifact's files out. An existing directory gets one file per blob, named by its title (or its digest, `:` made `-`); any other target is a file, created or replaced, and the artifact must then have one blob or --digest/--title must choose one.",
        "coracle-system-service" => "Serve podman's REST API, for Docker's and podman's clients (the docker CLI, docker-compose, podman --remote): the Docker-compatible endpoints (/v1.41/containers/json...) and libpod's (/v5.0.0/libpod/...). Each request does what the matching coracle command does, on the same store: containers made through the API are the ones `coracle ps` lists. The service is daemonless too: the listening process only accepts connections, and each connection is served by a process of its own. It listens on the URI given (unix:///PATH, or tcp://HOST:PORT, which without TLS has no authentication: anyone who reaches the port controls your containers), else on the socket systemd passes (socket activation), else on $PODMAN_SOCKET, else on /run/podman/podman.sock as root and $XDG_RUNTIME_DIR/podman/podman.sock for a user. The socket is made mode 0600; a stale one is replaced, one a live service answers on is an error. It exits after --time seconds with no connection open (default: containers.conf's [engine] service_timeout, else 5; 0 never), and on SIGTERM or SIGINT. Attach and exec relay standard input too (docker run -i, docker exec -it): the client's bytes go to the program, its half-close ends a pipe's input, and /containers/ID/resize and /exec/ID/resize set a terminal's window size. Images are saved (/images/NAME/get, /images/get?names=: a docker-archive, as save -m), loaded (/images/load), imported (/images/create?fromSrc=-, libpod's /images/import) and pruned (/images/prune) as the commands do, an uploaded archive going to a file in the store that is removed afterwards; /images/NAME/history and /system/df answer as history and system df. libpod's pod endpoints list, inspect, test (exists), create (name, hostname, labels, no_infra, infra_image, shared_namespaces, netns, portmappings, read as pod create's flags), start, stop, restart, kill and remove pods. With --tls-cert and --tls-key (PEM files) every connection is TLS, on whatever the service listens (a tcp port, as the docker CLI's DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH expect, or a unix socket, as podman's); a plain HTTP request gets a 400 saying so. With --tls-client-ca too, a client must present a certificate that bundle signed (mutual TLS), else the handshake fails: the one way to offer the API on a network port safely. The files are read before anything listens: a missing, unreadable or malformed one, a key that is not the certificate's, or one of --tls-cert and --tls-key without the other is an error. Not served: build (/build) and libpod's /system/df.",
        "coracle-container-checkpoint" => "Write the state of running containers' processes to disk with CRIU (criu 4 or later, found in $PATH, /usr/local/sbin or containers.conf's helper_binaries_dir), as root only. The container ends `exited` (or keeps running with --leave-running) and `coracle container restore` brings its processes back where they were, its log continued. The criu images are kept in the container's userdata (checkpoint/); --export writes them with the container's configuration and its file changes to an archive that `restore --import` makes a new container from. Containers with a terminal (-t), pod members, containers joining other containers' namespaces and those of external OCI runtimes are refused; what criu itself cannot dump (on some kernels, TCP sockets) fails with criu's log named.",
        "coracle-container-restore" => "Restore containers checkpointed with `coracle container checkpoint`, as root only: a new monitor runs criu, whose restored first process becomes its child, in a new network namespace the container's network (slirp4netns, pasta or its named networks) is set up in first; the container is running again under the same ID. With --import, a new container is made from an exported archive (named --name, or as the original) and restored.",
        _ => return None,
    })
}

/// `(what it does, command line)` pairs.
pub fn examples(page: &str) -> &'static [(&'static str, &'static str)] {
    match page {
        "coracle" => &[
            ("Run a shell in an Alpine container, removed when it exits.", "coracle run --rm -it docker.io/library/alpine sh"),
            ("List the containers, running or not.", "coracle ps -a"),
        ],
        "coracle-run" => &[
            ("Run a web server in the background, its port 80 published on the host's 8080.", "coracle run -d --name web -p 8080:80 docker.io/library/nginx"),
            ("Run a command with a volume and an environment variable, then remove the container.", "coracle run --rm -v data:/data -e MODE=test docker.io/library/alpine ls /data"),
            ("Give a container a secret as a file readable by uid 1000.", "coracle run --rm --secret mykey,uid=1000,mode=0400 alpine cat /run/secrets/mykey"),
            ("Run in a user namespace of its own: 65536 subordinate ids no other container maps (as root, from the ranges of the user `containers` in /etc/subuid and /etc/subgid).", "coracle run --rm --userns auto:size=65536 alpine cat /proc/self/uid_map"),
        ],
        "coracle-create" => &[
            ("Create a container to start later.", "coracle create --name box alpine sleep 1000"),
            ("Give pod app a setup step that runs to its end at each pod start, before the pod's other containers.", "coracle create --pod app --init-ctr always -v data:/data alpine sh -c 'date >> /data/starts'"),
        ],
        "coracle-system-service" => &[
            ("Serve the API on a socket until stopped, and point the docker CLI at it.", "coracle system service --time 0 unix:///tmp/coracle.sock & DOCKER_HOST=unix:///tmp/coracle.sock docker ps"),
            ("Ask it with curl.", "curl --unix-socket /tmp/coracle.sock http://d/v1.41/containers/json?all=1"),
            ("Serve on demand from a socket systemd (or systemd-socket-activate) listens on.", "systemd-socket-activate -l /tmp/coracle.sock coracle system service"),
            ("Serve on a tcp port to clients with a certificate the CA signed (mutual TLS).", "coracle system service --time 0 --tls-cert server.pem --tls-key server-key.pem --tls-client-ca ca.pem tcp://0.0.0.0:2376"),
        ],
        "coracle-init" => &[("Prepare a container, look at its files, then start it.", "coracle init box && coracle start box")],
        "coracle-exec" => &[("Run a shell in a running container; ctrl-p ctrl-q detaches and leaves the shell running.", "coracle exec -it web sh")],
        "coracle-attach" => &[
            ("Attach to a container started with -dit; ctrl-p ctrl-q detaches and leaves it running.", "coracle attach web"),
            ("Watch a container's output without sending it input.", "coracle attach --no-stdin web"),
        ],
        "coracle-mount" => &[
            ("Mount a container's files on the host and list them (rootless: inside coracle unshare).", "coracle mount web"),
            ("List the mounted containers as JSON.", "coracle mount --format json"),
        ],
        "coracle-unmount" => &[("Unmount every mounted container, whatever its mount count.", "coracle unmount --all --force")],
        "coracle-ps" => &[
            ("List all containers with their names and status only.", "coracle ps -a --format '{{.Names}} {{.Status}}'"),
            ("List the containers of an image.", "coracle ps --filter ancestor=alpine"),
        ],
        "coracle-images" => &[("List images as JSON.", "coracle images --format json")],
        "coracle-pull" => &[("Pull an image.", "coracle pull docker.io/library/alpine:latest")],
        "coracle-build" => &[
            ("Build the Containerfile of the current directory and tag it.", "coracle build -t myapp:1 ."),
            ("Let RUN --mount=type=ssh steps use the running ssh-agent and a deploy key.", "coracle build --ssh default --ssh deploy=./deploy_key -t myapp:1 ."),
            ("Build with compressed layers and sign the image; push then sends it unchanged with its signature.", "coracle build -D=false --sign-by FINGERPRINT -t registry.example.com/myapp:1 . && coracle push registry.example.com/myapp:1"),
        ],
        "coracle-logs" => &[("Follow a container's log from its last 10 lines.", "coracle logs -f --tail 10 web")],
        "coracle-stop" => &[("Stop a container, waiting at most 5 seconds.", "coracle stop -t 5 web")],
        "coracle-rm" => &[("Remove a container, stopping it first.", "coracle rm -f web")],
        "coracle-cp" => &[
            ("Copy a file out of a container.", "coracle cp web:/etc/nginx/nginx.conf ."),
            ("Copy a directory into a container as a tar stream.", "tar -c conf | coracle cp - web:/etc"),
        ],
        "coracle-secret-create" => &[
            ("Create a secret from a file.", "coracle secret create mykey ./key.pem"),
            ("Create a secret from standard input.", "printf hunter2 | coracle secret create pw -"),
            ("Create a secret from an environment variable.", "coracle secret create --env pw MYPASSWORD"),
        ],
        "coracle-secret-ls" => &[("List the secrets' names.", "coracle secret ls --format '{{.Name}}'")],
        "coracle-secret-inspect" => &[("Show a secret's data.", "coracle secret inspect --showsecret --format '{{.SecretData}}' pw")],
        "coracle-secret-rm" => &[("Remove every secret.", "coracle secret rm --all")],
        "coracle-completion" => &[
            ("Enable completion in the current bash.", "source <(coracle completion bash)"),
            ("Write the zsh completion where zsh finds it.", "coracle completion -f \"${fpath[1]}/_coracle\" zsh"),
        ],
        "coracle-volume-create" => &[
            ("Create a volume with a label.", "coracle volume create --label app=web data"),
            ("Create a volume in the volume plugin named nfsplug in containers.conf's [engine.volume_plugins], with an option for it.", "coracle volume create --driver nfsplug -o server=nas data"),
            ("Create a volume owned by uid 1000 that a container's first mount does not fill from its image.", "coracle volume create -o o=uid=1000,gid=1000 -o nocopy cache"),
        ],
        "coracle-volume-reload" => &[("Record the volumes the configured plugins have, and forget those they no longer have.", "coracle volume reload")],
        "coracle-pod-create" => &[
            ("Create a pod publishing port 8080.", "coracle pod create --name app -p 8080:80"),
            ("Create a pod whose containers share 1 GiB of memory and two CPUs, each with /data mounted.", "coracle pod create --name app --memory 1g --cpus 2 -v /srv/data:/data"),
        ],
        "coracle-pod-clone" => &[("Copy pod app and its containers with more memory, removing the original, and start the copy.", "coracle pod clone --destroy --start --memory 2g app app2")],
        "coracle-container-checkpoint" => &[
            ("Checkpoint container web, leaving it running, and print criu's statistics.", "coracle container checkpoint --leave-running --print-stats web"),
            ("Checkpoint web into an archive.", "coracle container checkpoint --export /tmp/web.tar.zst web"),
        ],
        "coracle-container-restore" => &[
            ("Restore container web from its checkpoint.", "coracle container restore web"),
            ("Make container web2 from an exported checkpoint and restore it.", "coracle container restore --import /tmp/web.tar.zst --name web2"),
        ],
        "coracle-container-clone" => &[
            ("Copy container web as web-clone.", "coracle container clone web"),
            ("Replace web by a copy with a CPU limit, started at once.", "coracle container clone --destroy --force --run --cpus 1 web web2"),
        ],
        "coracle-manifest-create" => &[
            ("Create a list of two local images.", "coracle manifest create mylist app-amd64 app-arm64"),
            ("Build for two platforms into a list.", "coracle build --platform linux/amd64,linux/arm64 --manifest mylist ."),
        ],
        "coracle-artifact-add" => &[
            ("Make an artifact of two files.", "coracle artifact add quay.io/me/model:1 model.gguf README.md"),
            ("Add a file to an existing artifact.", "coracle artifact add --append quay.io/me/model:1 config.yaml"),
        ],
        "coracle-artifact-extract" => &[("Copy one file of an artifact out.", "coracle artifact extract --title README.md quay.io/me/model:1 /tmp/out")],
        "coracle-artifact-push" => &[("Push an artifact to the registry its name names.", "coracle artifact push quay.io/me/model:1")],
        "coracle-artifact-pull" => &[("Pull an artifact.", "coracle artifact pull quay.io/me/model:1")],
        "coracle-manifest-add" => &[("Add an artifact made of a file to a list.", "coracle manifest add --artifact --artifact-type application/x.config mylist config.json")],
        "coracle-manifest-push" => &[("Push a list and its images.", "coracle manifest push mylist registry.example.org/app:1")],
        _ => &[],
    }
}

/// Exit codes: the command's own status where it runs one, else podman's.
pub fn exit_status(page: &str) -> Vec<(&'static str, &'static str)> {
    let runs_command = matches!(
        page,
        "coracle-run" | "coracle-exec" | "coracle-container-run" | "coracle-container-exec"
    );
    let mut out = vec![("0", "Success.")];
    if page.ends_with("-exists") {
        out.push(("1", "The object does not exist."));
    }
    out.push((
        "125",
        "coracle itself failed: bad flags or arguments, a missing object, a store or runtime error. One line on standard error says why.",
    ));
    if runs_command {
        out.push((
            "126",
            "The command could not be run (not executable, a directory, no permission).",
        ));
        out.push(("127", "The command was not found."));
        out.push(("N", "Any other status is the command's own exit status."));
    }
    out
}

/// Where coracle keeps its state.
pub const FILES: &[(&str, &str)] = &[
    (
        "/var/lib/coracle",
        "The store of root: images, layers, containers, volumes, secrets.",
    ),
    (
        "$XDG_DATA_HOME/coracle (~/.local/share/coracle)",
        "The store of any other user.",
    ),
    (
        "/run/coracle, $XDG_RUNTIME_DIR/coracle",
        "Volatile state of running containers (root, other users).",
    ),
    (
        "$XDG_RUNTIME_DIR/containers/auth.json",
        "Registry credentials (podman's containers-auth.json), written by coracle login.",
    ),
    (
        "/etc/subuid, /etc/subgid",
        "The subordinate ids of rootless containers' user namespaces.",
    ),
];
